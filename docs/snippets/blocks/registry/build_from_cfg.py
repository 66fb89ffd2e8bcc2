import torch

from knowledge.registry import MODELS, build_norm_layer

torch.manual_seed(0)
# A PSPNet head for Cityscapes (19 classes) on a ResNet-style 2048-channel feature map,
# scaled down 16x in channels so that it runs instantly here.
cfg = dict(
    type="PSPHead",
    in_channels=128,
    channels=32,
    num_classes=19,
    pool_scales=(1, 2, 3, 6),
    norm_layer=dict(type="GN", num_groups=8),  # a norm config: PSPHead builds it per layer
    dropout_ratio=0.1,
)
head = MODELS.build(cfg).eval()
print(type(head).__name__, "from", type(head).__module__)
norms = sorted({type(m).__name__ for m in head.modules() if "Norm" in type(m).__name__})
print("norm layers:", norms)
print("logits:", tuple(head(torch.randn(2, 128, 33, 33)).shape))

# Norm layers by mmseg's names; the channel count goes to the right argument
for norm_cfg in (dict(type="BN"), dict(type="SyncBN"), dict(type="GN", num_groups=32)):
    layer = build_norm_layer(norm_cfg, 512)
    print(f"{norm_cfg!s:<32} -> {type(layer).__module__}.{type(layer).__name__}")
