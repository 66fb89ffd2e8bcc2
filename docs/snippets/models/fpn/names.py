import torch

from knowledge.models import FPN

with torch.device("meta"):
    fpn = FPN([256, 512, 1024, 2048], 256)


def torchvision_name(key: str) -> str:
    """lateral_convs.{i}.conv.weight -> inner_blocks.{i}.0.weight, and so on."""
    block, i, layer, param = key.split(".")
    tv_block = {"lateral_convs": "inner_blocks", "fpn_convs": "layer_blocks"}[block]
    return f"{tv_block}.{i}.{ {'conv': 0, 'norm': 1}[layer] }.{param}"


keys = list(fpn.state_dict())
print(f"{len(keys)} tensors; the first two of each block:")
for key in (keys[0], keys[1], keys[8], keys[9]):
    print(f"  {key:<28} <-> {torchvision_name(key):<24} {tuple(fpn.state_dict()[key].shape)}")
