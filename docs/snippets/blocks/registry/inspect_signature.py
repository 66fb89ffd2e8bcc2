import inspect

from knowledge.blocks import PPM

sig = inspect.signature(PPM)  # the signature of PPM.__init__, without self
print(sig)
print("PPM.__init__ starts with", list(inspect.signature(PPM.__init__).parameters)[:2])
print()
print(f"{'parameter':<14} {'kind':<22} default")
for p in sig.parameters.values():
    default = "(required)" if p.default is p.empty else repr(p.default)
    print(f"{p.name:<14} {p.kind.name:<22} {default}")

# Annotations are strings here (from __future__ import annotations);
# eval_str=True evaluates them in the module's namespace: code we wrote, not config.
print()
print(inspect.signature(PPM, eval_str=True).parameters["align_corners"].annotation)
