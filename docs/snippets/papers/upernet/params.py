import torch

from knowledge.models import UPerHead, swin_t_upernet_parameter_counts

# Swin-T's four maps for a 512x512 crop (strides 4..32), 150 ADE20K classes, meta device
with torch.device("meta"):
    head = UPerHead((96, 192, 384, 768), 512, 150).eval()
    feats = [torch.zeros(1, 96 * 2**i, 128 // 2**i, 128 // 2**i) for i in range(4)]
    logits = head(feats)
print("inputs:", ", ".join(str(tuple(f.shape[1:])) for f in feats))
print("logits:", tuple(logits.shape), "at 1/4 of the crop")

counts = swin_t_upernet_parameter_counts(150)  # the whole segmentor, built once and cached
for name in ("backbone", "decode_head", "auxiliary_head", "total", "total_without_aux"):
    print(f"{name:<18} {counts[name]:>11,}")
