import torch

from knowledge.models import FPN

# One channel and identity convolutions, so that each output is the merged map itself:
# P_i = M_i = C_i + nearest(M_{i+1}).
fpn = FPN([1, 1, 1], 1).eval()
with torch.no_grad():
    for conv in [*fpn.lateral_convs, *fpn.fpn_convs]:
        conv.conv.weight.zero_()
        conv.conv.weight[..., conv.conv.kernel_size[0] // 2, conv.conv.kernel_size[1] // 2] = 1
        conv.conv.bias.zero_()

c5 = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # coarsest level, 2x2
c4 = torch.full((3, 4), 10.0)  # 3x4: a stride-2 layer rounded 5x7 up to 3x4
c3 = torch.zeros(5, 7)  # the finest level carries nothing here
with torch.no_grad():
    p3, p4, p5, p6 = fpn([c[None, None] for c in (c3, c4, c5)])
for name, p in (
    ("P5 = C5", p5),
    ("P4 = C4 + up(P5)", p4),
    ("P3 = C3 + up(P4)", p3),
    ("P6 = P5[::2, ::2]", p6),
):
    print(f"{name}  {tuple(p.shape[-2:])}")
    print(p[0, 0].long())
