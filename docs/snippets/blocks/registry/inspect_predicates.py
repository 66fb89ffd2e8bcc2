import inspect

import torch
import torch.nn.functional as F

from knowledge.blocks import PPM
from knowledge.registry import Registry, build_norm_layer

ppm = PPM(8, 2)
checks = [
    ("PPM", PPM),
    ("PPM(8, 2)", ppm),
    ("build_norm_layer", build_norm_layer),
    ("PPM.forward", PPM.forward),
    ("ppm.forward", ppm.forward),
    ("F.interpolate", F.interpolate),
    ("torch.cat", torch.cat),
    ("Registry.register", Registry.register),
]
predicates = [inspect.isclass, inspect.isfunction, inspect.ismethod, inspect.isbuiltin]
print(f"{'object':<18}" + "".join(f"{p.__name__:>11}" for p in predicates))
for label, obj in checks:
    print(f"{label:<18}" + "".join(f"{p(obj)!s:>11}" for p in predicates))
