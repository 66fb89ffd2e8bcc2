import torch
import torch.nn.functional as F

from knowledge.models import UPerHead


def run_steps(head: UPerHead, feats: list[torch.Tensor], log: bool) -> torch.Tensor:
    """UPerHead's forward pass, written out step by step."""

    def show(step: str, tensors: list[torch.Tensor]) -> None:
        if log:
            print(f"{step:<34} " + "  ".join(str(tuple(t.shape[1:])) for t in tensors))

    def resize(x: torch.Tensor, size: torch.Size) -> torch.Tensor:
        return F.interpolate(x, size=size, mode="bilinear", align_corners=head.align_corners)

    show("input C1..C4", feats)
    # 1. PPM (input + 4 pooled branches) and the 3x3 bottleneck on the top; 1x1 laterals below
    ppm = head.psp_modules(feats[-1])
    show("1. PPM on C4 (concat)", [ppm])
    laterals = [conv(x) for conv, x in zip(head.lateral_convs, feats, strict=False)]
    laterals.append(head.bottleneck(ppm))
    show("1. laterals L1..L3, bottleneck L4", laterals)
    # 2. top-down: bilinear upsampling to the finer level's size, then addition
    for i in range(len(laterals) - 1, 0, -1):
        laterals[i - 1] = laterals[i - 1] + resize(laterals[i], laterals[i - 1].shape[2:])
    show("2. top-down sums", laterals)
    # 3. 3x3 FPN convs on all levels but the top
    outs = [conv(x) for conv, x in zip(head.fpn_convs, laterals, strict=False)] + [laterals[-1]]
    show("3. FPN convs F1..F3, F4 = L4", outs)
    # 4. resize everything to the finest level and concatenate
    outs = [outs[0]] + [resize(o, outs[0].shape[2:]) for o in outs[1:]]
    fused = torch.cat(outs, dim=1)
    show("4. resize to F1, concat", [fused])
    # 5. 3x3 fpn_bottleneck, dropout, 1x1 classifier
    y = head.fpn_bottleneck(fused)
    show("5. fpn_bottleneck", [y])
    logits = head.conv_seg(head.dropout(y))
    show("5. dropout, conv_seg", [logits])
    return logits


# Swin-T on a 512x512 crop, 150 ADE20K classes; meta tensors: shapes without compute
with torch.device("meta"):
    head = UPerHead((96, 192, 384, 768), 512, 150, pool_scales=(1, 2, 3, 6)).eval()
    feats = [torch.randn(1, 96 * 2**i, 128 // 2**i, 128 // 2**i) for i in range(4)]
    print(f"{'step':<34} shapes (C, H, W), batch 1")
    run_steps(head, feats, log=True)

# The same steps on real numbers (a small head) reproduce head(feats) exactly
torch.manual_seed(0)
small = UPerHead((8, 16, 32, 64), 16, 5).eval()
x = [torch.randn(2, 8 * 2**i, 33 // 2**i, 47 // 2**i) for i in range(4)]
with torch.no_grad():
    same = torch.equal(run_steps(small, x, log=False), small(x))
print("\nstep by step == UPerHead.forward on real data:", same)
