import torch

from knowledge.blocks import PPM, PSPHead


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


C, Cp, S = 2048, 512, 4  # input channels, branch channels, number of pool scales
# Build on the meta device: shapes and parameter counts, but no memory and no init cost
with torch.device("meta"):
    ppm = PPM(C, Cp)
    heads = {k: PSPHead(C, Cp, k) for k in (19, 150)}  # Cityscapes, ADE20K

ppm_formula = S * (C * Cp + 2 * Cp)  # 1x1 conv without bias, plus BN's gamma and beta
print(f"PPM:      {count(ppm):>10,}  formula S(C C' + 2 C') = {ppm_formula:,}")
for k, head in heads.items():
    bottleneck = (C + S * Cp) * Cp * 9 + 2 * Cp  # 3x3 conv 4096 -> 512 and its BN
    classifier = Cp * k + k  # 1x1 conv with bias
    formula = ppm_formula + bottleneck + classifier
    print(f"PSPHead K={k:<3} {count(head):>10,}  formula {formula:,}  (bottleneck {bottleneck:,})")
