import torch

torch.manual_seed(0)
# Three kinds of coordinates, 1,000 of each; gradient = mean + std * noise at every step
kinds = {"strong signal": (1.0, 0.1), "weak signal": (0.1, 1.0), "pure noise": (0.0, 1.0)}
mean = torch.tensor([m for m, _ in kinds.values()], dtype=torch.float64)[:, None]
std = torch.tensor([s for _, s in kinds.values()], dtype=torch.float64)[:, None]

lr = 1e-3
w = torch.zeros(len(kinds), 1000, dtype=torch.float64, requires_grad=True)
opt = torch.optim.AdamW([w], lr=lr, betas=(0.9, 0.999), weight_decay=0.0)

print("mean |AdamW update| / lr, per kind of coordinate")
print(f"{'step':>5} " + " ".join(f"{k:>14}" for k in kinds))
shown = (1, 2, 3, 5, 10, 20, 50, 200)
for t in range(1, 201):
    w.grad = mean + std * torch.randn_like(w)  # (kinds, 1000)
    before = w.detach().clone()
    opt.step()
    if t in shown:
        ratio = ((w.detach() - before).abs() / lr).mean(dim=1)  # (kinds,)
        print(f"{t:>5} " + " ".join(f"{v:>14.3f}" for v in ratio.tolist()))
