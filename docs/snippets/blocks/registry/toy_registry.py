import torch

from knowledge.blocks import PPM, PSPHead
from knowledge.registry import Registry, RegistryError

BACKBONES = Registry("backbones")


@BACKBONES.register()  # registered under the class name, when this line runs
class TinyNet(torch.nn.Module):
    def __init__(self, depth: int, *, width: int = 16) -> None:
        super().__init__()
        self.layers = torch.nn.Sequential(*[torch.nn.Linear(width, width) for _ in range(depth)])


@BACKBONES.register(name="tiny18")  # a function works too: build() calls it
def tiny18(width: int = 16) -> TinyNet:
    return TinyNet(18, width=width)


BACKBONES.register(obj=PPM)  # the plain-call form
print(BACKBONES)
net = BACKBONES.build(dict(type="tiny18", width=8))
print(type(net).__name__, "with", len(net.layers), "layers")

# Only classes and functions: an instance or a builtin is refused
for obj in (net, torch.cat):
    try:
        BACKBONES.register(obj=obj)
    except TypeError as err:
        print(f"TypeError: {err}")

# A different class under a taken name is refused unless force=True
try:
    BACKBONES.register(name="PPM", obj=PSPHead)
except RegistryError as err:
    print(f"RegistryError: {err}")
BACKBONES.register(name="PPM", obj=PSPHead, force=True)
print("after force=True:", BACKBONES.get("PPM").__name__)
