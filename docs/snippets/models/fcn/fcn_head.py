import torch

from knowledge.registry import MODELS

torch.manual_seed(0)
# mmseg's auxiliary head of Swin-T UPerNet, as a config dict
aux_cfg = dict(
    type="FCNHead",
    in_channels=384,
    in_index=2,
    channels=256,
    num_convs=1,
    concat_input=False,
    dropout_ratio=0.1,
    num_classes=150,
    norm_layer=dict(type="SyncBN"),
)
# mmseg's FCN decode head on a dilated ResNet-50 (fcn_r50-d8, Cityscapes)
fcn_cfg = dict(
    type="FCNHead",
    in_channels=2048,
    channels=512,
    num_convs=2,
    concat_input=True,
    dropout_ratio=0.1,
    num_classes=19,
)

with torch.device("meta"):  # shapes and parameter counts only
    aux, head = MODELS.build(aux_cfg), MODELS.build(fcn_cfg)
    # Swin-T's four maps for a 512x512 crop: strides 4, 8, 16, 32
    swin_maps = [torch.randn(2, 96 * 2**i, 128 // 2**i, 128 // 2**i) for i in range(4)]
    resnet_map = torch.randn(2, 2048, 64, 64)  # output stride 8


def count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


print("auxiliary head:", [name for name, _ in aux.named_children()])
print("  input level 2:", tuple(swin_maps[2].shape), "-> logits", tuple(aux(swin_maps).shape))
formula = 384 * 256 * 9 + 2 * 256 + (256 * 150 + 150)
print(
    f"  parameters {count(aux):,}  (3x3 conv 384*256*9 + BN 2*256 + conv_seg 256*150+150"
    f" = {formula:,})"
)
print("FCN decode head:", [name for name, _ in head.named_children()])
print("  input:", tuple(resnet_map.shape), "-> logits", tuple(head(resnet_map).shape))
print(f"  parameters {count(head):,}; conv_cat sees {head.conv_cat.conv.in_channels} channels")
