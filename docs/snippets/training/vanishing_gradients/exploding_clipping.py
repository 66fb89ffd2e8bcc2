import torch
import torch.nn.functional as F

from knowledge.training import GradNormRecorder, make_deep_mlp

torch.manual_seed(0)
x = torch.randn(128, 32)
y = torch.randint(0, 10, (128,))

model = make_deep_mlp("relu", depth=20)
with torch.no_grad():
    for name, block in model.named_children():
        if name != "head":
            block.linear.weight *= 1.5  # 1.5 x the He scale: a factor of about 1.5 per layer

# two recorders at once: gradients of the layer outputs and of the parameters
with GradNormRecorder(model, of="output") as outs, GradNormRecorder(model) as params:
    F.cross_entropy(model(x), y).backward()
total = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
clipped = {
    name: float(torch.cat([p.grad.flatten() for p in block.parameters()]).norm())
    for name, block in model.named_children()
}

print(f"total gradient norm before clipping: {total:.2e} (clipped to 1.0)")
print("layer    |dL/dh|   |dL/dθ| before   after clipping")
for (name, out), (_, par) in zip(outs.norms, params.norms, strict=True):
    if name in ("layer1", "layer5", "layer10", "layer15", "layer20", "head"):
        print(f"{name:8s} {out:8.1e} {par:15.1e} {clipped[name]:16.1e}")
