import torch

from knowledge.training import WarmupPolyLR


def schedule(style: str) -> WarmupPolyLR:
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    return WarmupPolyLR(
        opt,
        max_iters=20,
        power=1.0,
        min_lr=0.0,
        warmup="linear",
        warmup_iters=5,
        warmup_ratio=0.1,
        style=style,
    )


mmcv, mmengine = schedule("mmcv"), schedule("mmengine")
print("base lr 1.0, 5 linear warmup iterations from 0.1, poly (power 1) to 20 iterations")
print(f"{'i':>3} {'mmcv':>8} {'mmengine':>9}")
for i in range(20):
    print(f"{i:>3} {mmcv.lr_at(i)[0]:>8.4f} {mmengine.lr_at(i)[0]:>9.4f}")
