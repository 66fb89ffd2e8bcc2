from knowledge.models import swin_t_upernet_parameter_counts

# Builds Swin-T + UPerNet + FCN auxiliary head (150 classes) on the meta device, counts once
counts = swin_t_upernet_parameter_counts(150)
MMSEG_WITH_AUX, MMSEG_WITHOUT_AUX = 59_941_862, 59_018_064  # mmseg's published counts

print(f"{'part':<28} {'parameters':>12}")
for name in ("backbone", "decode_head", "auxiliary_head"):
    print(f"{name:<28} {counts[name]:>12,}")
print(f"{'total, with auxiliary head':<28} {counts['total']:>12,}   mmseg {MMSEG_WITH_AUX:,}")
print(f"{'total, without':<28} {counts['total_without_aux']:>12,}   mmseg {MMSEG_WITHOUT_AUX:,}")
print(
    "equal to mmseg:",
    counts["total"] == MMSEG_WITH_AUX and counts["total_without_aux"] == MMSEG_WITHOUT_AUX,
)
print(f"in millions: {counts['total'] / 1e6:.1f}M (Swin paper: 60M)")
