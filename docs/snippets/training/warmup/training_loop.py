import io

import torch
from torch import nn

from knowledge.training import WarmupPolyLR

torch.manual_seed(0)
x, y = torch.randn(64, 8), torch.randn(64, 1)


def build() -> tuple[nn.Module, torch.optim.Optimizer, WarmupPolyLR]:
    torch.manual_seed(1)
    model = nn.Linear(8, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=6e-4, weight_decay=0.01)
    sched = WarmupPolyLR(
        opt,
        max_iters=100,
        power=1.0,
        min_lr=0.0,
        warmup="linear",
        warmup_iters=15,
        warmup_ratio=1e-6,
        style="mmengine",
    )
    return model, opt, sched


def train(model, opt, sched, iters: range) -> list[float]:
    used = []
    for _ in iters:
        used.append(opt.param_groups[0]["lr"])  # the lr this iteration trains with
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()  # once per iteration, after optimizer.step()
    return used


# Straight run of 100 iterations
model, opt, sched = build()
straight = train(model, opt, sched, range(100))
straight_weight = model.weight.detach().clone()

# Interrupted at iteration 40: save everything, rebuild from scratch, load, continue
model, opt, sched = build()
first = train(model, opt, sched, range(40))
buf = io.BytesIO()
torch.save(
    {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()},
    buf,
)
buf.seek(0)
ckpt = torch.load(buf, weights_only=True)
model, opt, sched = build()
model.load_state_dict(ckpt["model"])
opt.load_state_dict(ckpt["optimizer"])
sched.load_state_dict(ckpt["scheduler"])
resumed = first + train(model, opt, sched, range(40, 100))

print("scheduler state:", {k: sched.state_dict()[k] for k in ("last_epoch", "base_lrs")})
for i in (0, 7, 14, 15, 40, 41, 99):
    print(f"iteration {i:>2}: lr {straight[i]:.3e}")
print("resumed run uses the same lr at every iteration:", resumed == straight)
print("and ends with the same weights:", torch.equal(model.weight, straight_weight))
