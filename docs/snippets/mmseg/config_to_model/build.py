import torch

from knowledge.models import swin_t_upernet_config
from knowledge.registry import MODELS

cfg = swin_t_upernet_config(num_classes=4)  # the Swin-T + UPerNet layout of mmseg's config
# Scaled down (narrow and shallow) so that it builds in milliseconds; the structure is unchanged
cfg["backbone"].update(embed_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4))
cfg["decode_head"].update(in_channels=(16, 32, 64, 128), channels=32)
cfg["auxiliary_head"].update(in_channels=64, channels=16)

# Step 1: every "type" string is looked up in the registry (a name, never code)
for key in ("type", "backbone", "decode_head", "auxiliary_head"):
    name = cfg[key] if key == "type" else cfg[key]["type"]
    target = MODELS.get(name)
    print(f"{key:<15} {name!r:<18} -> {target.__module__}.{target.__qualname__}")

# Step 2: build; nested dicts first, then EncoderDecoder(backbone=<module>, ...)
torch.manual_seed(0)
model = MODELS.build(cfg)
print()
print(f"{type(model).__name__}: {sum(p.numel() for p in model.parameters()):,} parameters")
for name, child in model.named_children():
    params = sum(p.numel() for p in child.parameters())
    print(f"  .{name:<15} {type(child).__name__:<16} {params:>8,}")
print(f"  .{'neck':<15} {model.neck}")
print(f"  .{'test_cfg':<15} {model.test_cfg}")
