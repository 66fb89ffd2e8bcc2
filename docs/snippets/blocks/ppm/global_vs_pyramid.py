import torch
import torch.nn.functional as F

# Two 6x6 one-channel "scenes": 1 marks sky, 0 marks road. The second is upside down.
sky_on_top = torch.zeros(1, 1, 6, 6)
sky_on_top[..., :3, :] = 1.0
upside_down = sky_on_top.flip(-2)

for name, scene in [("sky on top", sky_on_top), ("upside down", upside_down)]:
    print(name)
    for s in (1, 2, 3):
        pooled = F.adaptive_avg_pool2d(scene, s)[0, 0]  # (s, s) bin averages
        print(f"  {s}x{s} bins: {pooled.tolist()}")
