import torch

from knowledge.detection import BoxCoder

anchor = torch.tensor([[100.0, 100.0, 164.0, 132.0]])  # centre (132, 116), 64 x 32
box = torch.tensor([[110.0, 96.0, 190.0, 144.0]])  # centre (150, 120), 80 x 48

for weights in [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)]:
    coder = BoxCoder(weights)
    deltas = coder.encode(box, anchor)  # what the network should learn to predict
    print(f"weights {weights}: (tx, ty, tw, th) = {[round(v, 4) for v in deltas[0].tolist()]}")
    print("  decoded back:", coder.decode(deltas, anchor)[0].tolist())

# A wild prediction: t_w = t_h = 10 would mean a box e^10 = 22026 times larger
coder = BoxCoder((1.0, 1.0, 1.0, 1.0))
x1, y1, x2, y2 = coder.decode(torch.tensor([[0.0, 0.0, 10.0, 10.0]]), anchor)[0].tolist()
print(f"clamped: {x2 - x1:.0f} x {y2 - y1:.0f} = 62.5 times the anchor's 64 x 32")
