import torch

from knowledge.detection import AnchorGenerator

# The paper's setting: 3 scales x 3 aspect ratios, on VGG-16's conv5_3 (stride 16).
gen = AnchorGenerator(sizes=((128, 256, 512),), aspect_ratios=((0.5, 1.0, 2.0),))
print("anchors per location k =", gen.num_anchors_per_location()[0])

# A typical resized image: shorter side 600, about 1000 wide. VGG's four 2x2 max pools
# floor each size: 600 -> 300 -> 150 -> 75 -> 37, 1000 -> 500 -> 250 -> 125 -> 62.
with torch.device("meta"):  # shapes only: no memory, no compute
    image = torch.zeros(1, 3, 600, 1000)
    conv5 = torch.zeros(1, 512, 37, 62)
anchors = gen(image, [conv5])[0]
print("conv5_3 map: 37 x 62 locations ->", tuple(anchors.shape), "anchor boxes")

# The RPN head: a 3x3 conv to 512 channels, then two sibling 1x1 convs
rpn = 512 * 512 * 9 + 512  # 3x3 conv with bias
cls, reg = 512 * 2 * 9 + 2 * 9, 512 * 4 * 9 + 4 * 9  # 2k scores, 4k deltas (paper's form)
print(f"RPN parameters: 3x3 conv {rpn:,} + cls {cls:,} + reg {reg:,} = {rpn + cls + reg:,}")
