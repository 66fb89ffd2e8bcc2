import torch

from knowledge.detection import AnchorGenerator

gen = AnchorGenerator(sizes=((32, 64, 128),), aspect_ratios=((0.5, 1.0, 2.0),))
print("ratio  size   anchor (x1, y1, x2, y2)        w x h      area  (size^2)")
cells = gen.cell_anchors[0]  # ratio-major: the 3 sizes of ratio 0.5 come first
for k, (x1, y1, x2, y2) in enumerate(cells.tolist()):
    ratio, size = (0.5, 1.0, 2.0)[k // 3], (32, 64, 128)[k % 3]
    w, h = x2 - x1, y2 - y1
    corners = f"({x1:.0f}, {y1:.0f}, {x2:.0f}, {y2:.0f})"
    print(f"{ratio:5}  {size:4}   {corners:28} {w:4.0f} x {h:<4.0f}  {w * h:6.0f}  ({size**2})")

# A 512 x 768 image and its stride-16 feature map: 32 x 48 locations, 9 anchors each
images = torch.zeros(1, 3, 512, 768)
anchors = gen(images, [torch.zeros(1, 256, 32, 48)])[0]
print("anchors per image:", tuple(anchors.shape), "=", 32 * 48, "locations x 9")
print("location (0, 1), first anchor:", anchors[9].tolist(), "(shifted by the stride, 16)")
