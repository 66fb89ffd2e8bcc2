import torch
from torch.utils.flop_counter import FlopCounterMode

from knowledge.models import UPerHead

# Swin-T UPerNet's decode head on a 512x512 crop (maps of 128, 64, 32, 16 pixels per side)
with torch.device("meta"):
    head = UPerHead((96, 192, 384, 768), 512, 150).eval()
    feats = [torch.randn(1, 96 * 2**i, 128 // 2**i, 128 // 2**i) for i in range(4)]
    with FlopCounterMode(display=False) as counter:
        head(feats)
flops = counter.get_flop_counts()  # per module name; one multiply-add counts as 2 FLOPs

parts = ["psp_modules", "bottleneck", "lateral_convs", "fpn_convs", "fpn_bottleneck", "conv_seg"]
total_params = sum(p.numel() for p in head.parameters())
total_macs = sum(flops["UPerHead"].values()) // 2
print(f"{'part':<16} {'parameters':>12} {'share':>6}   {'GMACs':>7} {'share':>6}")
for name in parts:
    module = getattr(head, name)
    params = sum(p.numel() for p in module.parameters())
    keys = [f"UPerHead.{name}"]
    if isinstance(module, torch.nn.ModuleList):  # never called itself: add up its members
        keys = [f"UPerHead.{name}.{i}" for i in range(len(module))]
    macs = sum(sum(flops[k].values()) for k in keys) // 2
    print(
        f"{name:<16} {params:>12,} {params / total_params:>6.1%}   {macs / 1e9:>7.2f}"
        f" {macs / total_macs:>6.1%}"
    )
print(f"{'total':<16} {total_params:>12,} {'':>6}   {total_macs / 1e9:>7.2f}")
