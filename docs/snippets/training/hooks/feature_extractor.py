import torch
from torch import nn

from knowledge.training import FeatureExtractor


def stage(c_in, c_out):  # halves H and W, like one ResNet stage
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()
    )


torch.manual_seed(0)
backbone = nn.Sequential()
backbone.add_module("stem", stage(3, 16))
for i, (c_in, c_out) in enumerate([(16, 32), (32, 64), (64, 128), (128, 256)], start=1):
    backbone.add_module(f"layer{i}", stage(c_in, c_out))
backbone.eval()

image = torch.randn(1, 3, 64, 128)  # (B, C, H, W)
with FeatureExtractor(backbone, ["layer1", "layer2", "layer3", "layer4"]) as features:
    backbone(image)

for name, fmap in features.items():  # what an FPN / UPerNet neck receives
    stride = image.shape[-1] // fmap.shape[-1]
    print(f"{name}: {tuple(fmap.shape)}  stride {stride}")
hooks_left = sum(len(m._forward_hooks) for m in backbone.modules())
print("hooks left after the with-block:", hooks_left)
