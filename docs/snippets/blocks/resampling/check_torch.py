import random

import torch
import torch.nn.functional as F

from knowledge.blocks import interpolate_bilinear, interpolate_nearest

rng = random.Random(0)
torch.manual_seed(0)
trials, nearest_equal = 150, 0
worst = {(dtype, ac): 0.0 for dtype in (torch.float64, torch.float32) for ac in (False, True)}
for _ in range(trials):
    x = torch.rand(1, rng.choice([1, 3, 4]), rng.randint(1, 16), rng.randint(1, 48))
    if rng.random() < 0.5:  # a target size, up or down
        kwargs = {"size": (rng.randint(1, 40), rng.randint(1, 100))}
    else:  # a non-integer scale, with or without recompute_scale_factor
        scale = rng.choice([rng.uniform(0.3, 3.0), 2.0, 0.5])
        kwargs = {"scale_factor": scale, "recompute_scale_factor": rng.choice([None, True])}
        if min(x.shape[2:]) * scale < 1:
            kwargs["scale_factor"] = 2.0
    ours = interpolate_nearest(x, **kwargs)
    nearest_equal += torch.equal(ours, F.interpolate(x, mode="nearest", **kwargs))
    for dtype, ac in worst:
        xd = x.to(dtype)
        ref = F.interpolate(xd, mode="bilinear", align_corners=ac, **kwargs)
        diff = (interpolate_bilinear(xd, align_corners=ac, **kwargs) - ref).abs().max()
        worst[dtype, ac] = max(worst[dtype, ac], diff.item())

print(f"nearest: bitwise equal to F.interpolate in {nearest_equal} of {trials} cases")
for (dtype, ac), err in worst.items():
    print(f"bilinear {dtype!s:13s} align_corners={ac!s:5s}: max |diff| = {err:.1e}")
