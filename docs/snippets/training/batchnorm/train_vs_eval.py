import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
for _ in range(50):  # a short "training": the running statistics settle
    model(torch.randn(8, 3, 16, 16) + 0.5)

image = torch.randn(1, 3, 16, 16) + 0.5
companions = [torch.randn(3, 3, 16, 16) + 0.5, torch.randn(3, 3, 16, 16) * 3]

with torch.no_grad():
    model.train()  # forgot model.eval(): the output depends on the other images
    a = model(torch.cat([image, companions[0]]))[0]
    b = model(torch.cat([image, companions[1]]))[0]
    print(f"train mode: same image, other batch mates -> max |diff| {(a - b).abs().max():.3f}")
    model.eval()  # running statistics: every image is processed on its own
    a = model(torch.cat([image, companions[0]]))[0]
    b = model(torch.cat([image, companions[1]]))[0]
    print(f"eval mode:  same image, other batch mates -> max |diff| {(a - b).abs().max():.3f}")
