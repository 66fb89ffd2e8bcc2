import math

import torch
import torch.nn.functional as F

from knowledge.blocks import ELU, LeakyReLU

# E[f(z)] for z ~ N(0, 1) by numerical integration: sum of f(z) * pdf(z) * dz on a fine grid
z = torch.linspace(-12, 12, 240_001, dtype=torch.float64)
weight = torch.exp(-(z**2) / 2) / math.sqrt(2 * math.pi) * (z[1] - z[0])

phi0 = 1 / math.sqrt(2 * math.pi)  # E[max(z, 0)]
Phi_minus1 = 0.5 * math.erfc(1 / math.sqrt(2))  # P(z < -1)
exact = {
    "ReLU": phi0,
    "LeakyReLU(0.01)": 0.99 * phi0,  # E[z] = 0, so 0.01 * E[min(z, 0)] = -0.01 * phi0
    "ELU(1.0)": phi0 + math.exp(0.5) * Phi_minus1 - 0.5,  # E[(e^z - 1); z <= 0]
}
acts = {
    "ReLU": torch.relu,
    "LeakyReLU(0.01)": LeakyReLU(0.01),
    "ELU(1.0)": ELU(1.0),
    "GELU": F.gelu,
    "SiLU": F.silu,
}
print(f"{'activation':<17}{'mean':>8}{'closed form':>13}{'std':>8}")
for name, act in acts.items():
    y = act(z)
    mean = (weight * y).sum()
    std = ((weight * (y - mean) ** 2).sum()).sqrt()
    ref = f"{exact[name]:.4f}" if name in exact else "-"
    print(f"{name:<17}{mean:8.4f}{ref:>13}{std:8.4f}")
