import torch

from knowledge.detection import TinyFasterRCNN

torch.manual_seed(0)
model = TinyFasterRCNN(num_classes=3).eval()  # random weights; the shapes are the point
trace = []  # one (stage, shape) row per step of the forward pass
with torch.no_grad():
    model(torch.rand(2, 3, 128, 128), trace=trace)

width = max(len(step.stage) for step in trace)
for step in trace:
    print(f"{step.stage:<{width}}  {step.shape}")
