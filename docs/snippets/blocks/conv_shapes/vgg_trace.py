import torch
from torch import nn

from knowledge.blocks import conv_output_size

# VGG-16's feature extractor: numbers are 3x3 convs (padding 1), "M" a 2x2 max-pool, stride 2
cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
layers, channels = [], 3
for v in cfg:
    if v == "M":
        layers.append(nn.MaxPool2d(2, stride=2))
    else:
        layers.append(nn.Conv2d(channels, v, 3, padding=1, device="meta"))
        channels = v

sizes = (224, 375)  # an ImageNet crop; the height of a typical PASCAL VOC image (500x375)
x = {h: torch.empty(1, 3, h, h, device="meta") for h in sizes}  # meta: shapes only
h = dict.fromkeys(sizes)
print(f"{'layer':18}" + "".join(f"{f'H={s}':>8}{'torch':>7}" for s in sizes))
print(f"{'input':18}" + "".join(f"{s:8}{'':7}" for s in sizes))
block, conv = 1, 1
for layer in layers:
    if isinstance(layer, nn.Conv2d):
        name, conv = f"conv{block}_{conv} k3 s1 p1", conv + 1
        step = dict(kernel_size=3, stride=1, padding=1, layer="conv")
    else:
        name, block, conv = f"pool{block} k2 s2", block + 1, 1
        step = dict(kernel_size=2, stride=2, padding=0, layer="maxpool")
    row = f"{name:18}"
    for s in sizes:
        h[s] = conv_output_size(h[s] or s, **step)
        x[s] = layer(x[s])
        row += f"{h[s]:8}{x[s].shape[-1]:7}"
    print(row)
for s in sizes:
    print(f"H={s}: pool5 grid {h[s]}x{h[s]} with stride 32 spans {h[s] * 32} of {s} rows")
