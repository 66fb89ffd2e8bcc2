import matplotlib.pyplot as plt
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from knowledge.detection import TinyFasterRCNN
from knowledge.plotting import svg

torch.manual_seed(0)
model = TinyFasterRCNN(num_classes=3).eval()
trace = []
with torch.no_grad():
    model(torch.rand(2, 3, 128, 128), trace=trace)
shape = dict(trace)  # stage -> shape, measured in this forward pass

# grid position, title, the traced shape shown under it, colour
stage1, stage2, shared = "#dbe9f6", "#fde2cf", "#e6e6e6"
nodes = {
    "image": (0, 2, "images", shape["images"], shared),
    "backbone": (
        1,
        2,
        "backbone\n3 convs, stride 8",
        shape["backbone features (stride 8)"],
        shared,
    ),
    "anchors": (2, 3, "anchor\ngenerator", shape["anchors per image"], stage1),
    "rpn": (
        2,
        1,
        "RPN head",
        shape["rpn objectness logits"] + "\n" + shape["rpn box deltas"],
        stage1,
    ),
    "propose": (3, 2, "decode, clip,\ntop-n, NMS 0.7", shape["proposals after nms"], stage1),
    "align": (4, 2, "roi_align\n7 x 7", shape["roi_align, all images"], stage2),
    "head": (5, 2, "box head\nfc6, fc7", shape["box head (fc6, fc7)"], stage2),
    "predict": (
        6,
        2,
        "class scores\n+ box deltas",
        shape["class logits"] + "\n" + shape["per-class box deltas"],
        stage2,
    ),
    "post": (7, 2, "decode, per-class\nNMS 0.5", shape["detections per image"], stage2),
}
edges = [
    ("image", "backbone"),
    ("backbone", "anchors"),
    ("backbone", "rpn"),
    ("anchors", "propose"),
    ("rpn", "propose"),
    ("propose", "align"),
    ("align", "head"),
    ("head", "predict"),
    ("predict", "post"),
]
sx, w, h = 1.9, 1.6, 0.9  # grid spacing, box width and height

fig, ax = plt.subplots(figsize=(14, 4.6))
for x, y, title, text, color in nodes.values():
    box = FancyBboxPatch(
        (x * sx - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02", fc=color, ec="0.3"
    )
    ax.add_patch(box)
    ax.text(x * sx, y + 0.18, title, ha="center", va="center", fontsize=7.5, weight="bold")
    ax.text(x * sx, y - 0.22, text, ha="center", va="center", fontsize=6.5, family="monospace")
for a, b in edges:
    (xa, ya, *_), (xb, yb, *_) = nodes[a], nodes[b]
    arrow = FancyArrowPatch(
        (xa * sx + w / 2, ya),
        (xb * sx - w / 2, yb),
        arrowstyle="-|>",
        mutation_scale=12,
        color="0.3",
    )
    ax.add_patch(arrow)
# the feature map also goes to roi_align, below the RPN
ax.plot([sx, sx, 4 * sx - 0.3], [2 - h / 2, 0.25, 0.25], color="0.3", lw=1)
ax.add_patch(
    FancyArrowPatch(
        (4 * sx - 0.3, 0.25),
        (4 * sx - 0.3, 2 - h / 2),
        arrowstyle="-|>",
        mutation_scale=12,
        color="0.3",
    )
)
ax.text(2.5 * sx, 0.32, "feature map", ha="center", fontsize=7.5, color="0.3")
ax.text(2 * sx, 3.62, "stage 1: region proposal network", ha="center", fontsize=9, color="#2b6cb0")
ax.text(5.5 * sx, 2.75, "stage 2: RoI head (Fast R-CNN)", ha="center", fontsize=9, color="#c05621")
ax.set(xlim=(-0.9, 7 * sx + 0.9), ylim=(0.1, 3.75))
ax.axis("off")
print(svg(fig, alt="Data flow of the tiny Faster R-CNN with the shapes of one forward pass"))
