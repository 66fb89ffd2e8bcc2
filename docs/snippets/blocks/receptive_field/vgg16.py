from collections import OrderedDict

from torch import nn

from knowledge.blocks import theoretical_receptive_field

# VGG-16 features (ReLUs left out: they do not change the receptive field). The meta device
# skips allocating the 14.7M weights; only the layers' hyperparameters matter here.
cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
layers, channels, block, conv = OrderedDict(), 3, 1, 1
for v in cfg:
    if v == "M":
        layers[f"pool{block}"] = nn.MaxPool2d(2, 2)
        block, conv = block + 1, 1
    else:
        layers[f"conv{block}_{conv}"] = nn.Conv2d(channels, v, 3, padding=1, device="meta")
        channels, conv = v, conv + 1

print(theoretical_receptive_field(nn.Sequential(layers), input_size=224))
