import torch

from knowledge.training import WarmupPolyLR

# Swin + UPerNet, ADE20K, 160k iterations (mmseg configs/swin)
recipe = dict(max_iters=160_000, power=1.0, min_lr=0.0)
warmup = dict(warmup="linear", warmup_iters=1500, warmup_ratio=1e-6)
lrs = {}
for style in ("mmcv", "mmengine"):
    opt = torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=6e-5, weight_decay=0.01)
    lrs[style] = WarmupPolyLR(opt, **recipe, **warmup, style=style)

print(f"{'iteration':>9} {'mmcv 1.x':>12} {'mmengine':>12} {'mmcv / mmengine':>16}")
for i in (0, 750, 1499, 1500, 80_000, 159_999):
    a, b = lrs["mmcv"].lr_at(i)[0], lrs["mmengine"].lr_at(i)[0]
    ratio = f"{a / b:.6f}" if b else "-"
    print(f"{i:>9} {a:>12.6e} {b:>12.6e} {ratio:>16}")
