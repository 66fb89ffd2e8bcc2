import torch

from knowledge.detection import TinyFasterRCNN

torch.manual_seed(0)
model = TinyFasterRCNN(num_classes=3).eval()
images = torch.rand(2, 3, 128, 128)
with torch.no_grad():
    detections = model(images)

parts = ["backbone", "rpn_head", "box_head", "box_predictor"]
for name in parts:
    count = sum(p.numel() for p in getattr(model, name).parameters())
    print(f"{name:<14} {count:>8,} parameters")
print(f"{'total':<14} {sum(p.numel() for p in model.parameters()):>8,}")

first = detections[0]  # one dict per image
print("image 0:", {key: tuple(value.shape) for key, value in first.items()})
for box, score, label in zip(
    first["boxes"][:3], first["scores"][:3], first["labels"][:3], strict=True
):
    print(f"  label {label.item()}  score {score:.3f}  box {[round(v, 1) for v in box.tolist()]}")
