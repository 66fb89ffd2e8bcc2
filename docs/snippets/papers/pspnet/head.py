import torch

from knowledge.blocks import PSPHead

# The paper's setting: a dilated ResNet (output stride 8) on a 473x473 crop gives a 60x60 map
# of 2048 channels; ADE20K has 150 classes. Built on the meta device: shapes only.
with torch.device("meta"):
    head = PSPHead(2048, 512, 150, pool_scales=(1, 2, 3, 6)).eval()
    x = torch.zeros(1, 2048, 60, 60)
    pyramid = head.psp_modules(x)
    logits = head(x)

for s in head.psp_modules.pool_scales:
    print(f"bin {s}x{s}: each cell averages about {60 / s:.0f}x{60 / s:.0f} feature pixels")
print("PPM output:", tuple(pyramid.shape), "= 2048 + 4 * 512 channels")
print("logits:    ", tuple(logits.shape), "-> bilinear x8 to 473x473")
print(f"head parameters: {sum(p.numel() for p in head.parameters()):,}")
