import inspect
import os

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import _functions
from torch.optim import lr_scheduler
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

ROOT = os.path.dirname(torch.__file__)  # the installed torch package


def where(obj: object) -> str:
    """File (relative to the torch package) and first line of obj's Python source."""
    path = os.path.relpath(inspect.getsourcefile(obj), ROOT).replace(os.sep, "/")
    return f"torch/{path}:{inspect.getsourcelines(obj)[1]}"


print("torch", torch.__version__.split("+")[0])
entries = {
    "nn.Module": nn.Module,
    "nn.Module.__call__": nn.Module.__call__,
    "nn.Module._call_impl": nn.Module._call_impl,
    "autograd.Function": torch.autograd.Function,
    "F.interpolate": F.interpolate,
    "nn.BatchNorm2d": nn.BatchNorm2d,
    "nn.SyncBatchNorm": nn.SyncBatchNorm,
    "_functions.SyncBatchNorm": _functions.SyncBatchNorm,
    "DataLoader": DataLoader,
    "RandomSampler": RandomSampler,
    "DistributedSampler": DistributedSampler,
    "optim.AdamW": torch.optim.AdamW,
    "lr_scheduler.LRScheduler": lr_scheduler.LRScheduler,
    "lr_scheduler.PolynomialLR": lr_scheduler.PolynomialLR,
    "torch.load": torch.load,
}
for name, obj in entries.items():
    print(f"{name:<26} {where(obj)}")

# __call__ is an alias: the hooks live in _call_impl, reached through _wrapped_call_impl
print("\nnn.Module.__call__ is", nn.Module.__call__.__name__)
# F.interpolate is Python down to a call into the C++ op that ATen implements
calls = [
    line.split("torch._C._nn.")[1].split("(")[0]
    for line in inspect.getsource(F.interpolate).splitlines()
    if "torch._C._nn." in line and "upsample" in line
]
print("F.interpolate calls torch._C._nn.:")
for call in dict.fromkeys(calls):  # unique, in source order
    print("  ", call)
params = inspect.signature(F.interpolate).parameters
print("F.interpolate parameters:", ", ".join(params))
print("torch.load weights_only default:", inspect.signature(torch.load).parameters["weights_only"])
# AdamW's parent class: recent releases implement it on top of Adam
print("AdamW bases:", [base.__name__ for base in torch.optim.AdamW.__bases__])
# The C++ headers ship with the wheel: the index arithmetic of every resize mode is readable
header = os.path.join(ROOT, "include", "ATen", "native", "UpSample.h")
print("torch/include/ATen/native/UpSample.h installed:", os.path.exists(header))
