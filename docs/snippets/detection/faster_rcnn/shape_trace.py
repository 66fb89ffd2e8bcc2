import torch

from knowledge.detection import TinyFasterRCNN

torch.manual_seed(0)
model = TinyFasterRCNN(num_classes=3).eval()  # background + 2 classes, random weights
images = torch.rand(2, 3, 128, 128)

trace = []  # the model appends one (stage, shape) row per step
with torch.no_grad():
    detections = model(images, trace=trace)

width = max(len(step.stage) for step in trace)
for step in trace:
    print(f"{step.stage:<{width}}  {step.shape}")
