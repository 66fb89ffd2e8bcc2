import tempfile
from pathlib import Path

import torch
from torch import nn

from knowledge.training import CheckpointError, load_weights


class SegNet(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.decode_head = nn.Conv2d(16, num_classes, 1)  # one score map per class


torch.manual_seed(0)
ade = SegNet(num_classes=150)  # "pretrained" on ADE20K
with tempfile.TemporaryDirectory() as tmp:
    # a checkpoint saved from a DDP-wrapped model: every key starts with "module."
    path = Path(tmp) / "ade20k_160k.pth"
    ddp_keys = {f"module.{k}": v for k, v in ade.state_dict().items()}
    torch.save({"state_dict": ddp_keys, "meta": {"iter": 160000}}, path)

    city = SegNet(num_classes=19)  # fine-tune on Cityscapes' 19 classes
    try:
        load_weights(path, city)  # strict=True by default
    except CheckpointError as err:
        print("strict=True:", str(err).replace(tmp, "<dir>"))
    result = load_weights(path, city, strict=False)

print(
    "strict=False: mismatched",
    result.mismatched_keys,
    "| missing",
    result.missing_keys,
    "| unexpected",
    result.unexpected_keys,
)
print("backbone copied:", torch.equal(city.backbone[0].weight, ade.backbone[0].weight))
print(
    "BN statistics copied:", torch.equal(city.backbone[1].running_var, ade.backbone[1].running_var)
)
print("decode_head left as initialised:", tuple(city.decode_head.weight.shape))
