import torch

from knowledge.models import FCN

# The three FCN variants for PASCAL VOC (21 classes) on a 500x375 image, built on the meta
# device: full VGG-16 widths, but no memory and no compute.
with torch.device("meta"):
    x = torch.zeros(1, 3, 375, 500)
    nets = {v: FCN(21, variant=v).eval() for v in ("32s", "16s", "8s")}

for variant, net in nets.items():
    out = net(x)
    total = sum(p.numel() for p in net.parameters())
    backbone = sum(p.numel() for p in net.backbone.parameters())
    print(
        f"FCN-{variant}: output {tuple(out.shape)}, parameters {total:,} "
        f"(head {total - backbone:,})"
    )
