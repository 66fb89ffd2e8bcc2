import torch

from knowledge.blocks import composite


def pixel(*rgb: float) -> torch.Tensor:
    return torch.tensor(rgb).view(1, 3, 1, 1)  # one pixel, (B, C, H, W)


def a(value: float) -> torch.Tensor:
    return torch.full((1, 1, 1, 1), value)


# Three different explanations (alpha, F, B) of one observed colour
explanations = {
    "50% red hair over blue sky": (a(0.5), pixel(0.8, 0.1, 0.1), pixel(0.2, 0.3, 0.7)),
    "opaque purple foreground": (a(1.0), pixel(0.5, 0.2, 0.4), pixel(0.0, 0.9, 0.0)),
    "80% dark red over light blue": (a(0.8), pixel(0.575, 0.175, 0.35), pixel(0.2, 0.3, 0.6)),
}
for name, (alpha, fg, bg) in explanations.items():
    rgb = composite(alpha, fg, bg).flatten().tolist()
    print(f"{name:<30} alpha={alpha.item():.1f} -> I = ({', '.join(f'{v:.3f}' for v in rgb)})")
