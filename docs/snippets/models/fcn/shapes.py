import torch

from knowledge.models import FCN

# FCN-8s for PASCAL VOC (21 classes) on a 500x375 image. On the meta device tensors have
# shapes but no data: full VGG-16 widths, no memory, no compute.
with torch.device("meta"):
    net = FCN(21, variant="8s").eval()
    x = torch.randn(1, 3, 375, 500)


def row(name: str, t: torch.Tensor, note: str = "") -> None:
    print(f"{name:<26} {tuple(t.shape)!s:<22} {note}".rstrip())


with torch.no_grad():
    row("image", x)
    h = x
    for i, stage in enumerate(net.backbone.stages, start=1):
        h = stage(h)
        row(f"pool{i}", h, f"stride {2**i}, ceil(H / {2**i})")
    pool3, pool4, fc7 = net.backbone(x)
    row("fc7 (fc6: 7x7, fc7: 1x1)", fc7, "stride 32")
    score = net.score_fr(fc7)
    row("score_fr", score, "K = 21 scores")
    up = net.upscore2(score)
    row("upscore2 (x2)", up, f"crop to {tuple(pool4.shape[-2:])}")
    fuse4 = up[..., : pool4.shape[2], : pool4.shape[3]] + net.score_pool4(pool4)
    row("+ score_pool4", fuse4, "FCN-16s fusion, stride 16")
    up = net.upscore_pool4(fuse4)
    row("upscore_pool4 (x2)", up, f"crop to {tuple(pool3.shape[-2:])}")
    fuse3 = up[..., : pool3.shape[2], : pool3.shape[3]] + net.score_pool3(pool3)
    row("+ score_pool3", fuse3, "FCN-8s fusion, stride 8")
    up = net.upscore(fuse3)
    row("upscore (x8)", up, "crop to (375, 500)")
    row("output", net(x), "scores at the input size")

total = sum(p.numel() for p in net.parameters())
frozen = sum(p.numel() for p in net.parameters() if not p.requires_grad)
print(
    f"\nparameters: {total:,} (backbone {sum(p.numel() for p in net.backbone.parameters()):,}; "
    f"frozen final upsampling {frozen:,})"
)
