import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from knowledge.models import bilinear_kernel
from knowledge.plotting import svg

torch.manual_seed(0)
f, n = 8, 6  # upsampling factor, input samples
signal = torch.tensor([1.0, 0.6, 0.9, 0.3, 0.7, 0.8], dtype=torch.float64)
x = signal.view(1, 1, 1, n).expand(1, 1, 3, n).contiguous()  # a 2-D map whose rows are equal
deconv = F.conv_transpose2d(x, bilinear_kernel(1, 2 * f).double(), stride=f, padding=f // 2)[
    0, 0, 1 * f
]
interp = F.interpolate(x, scale_factor=f, mode="bilinear", align_corners=False)[0, 0, 1 * f]
corners = F.interpolate(x, scale_factor=f, mode="bilinear", align_corners=True)[0, 0, 1 * f]
pos = (torch.arange(n * f) + 0.5) / f - 0.5  # output pixel centres in input coordinates

fig, ax = plt.subplots(figsize=(8, 3.8), layout="constrained")
ax.axvspan(-0.5, -0.5 + 0.5, color="0.9")
ax.axvspan(n - 1, n - 0.5, color="0.9", label="border: f/2 output pixels per side")
ax.plot(pos, interp, "-", color="tab:blue", lw=2.5, label="F.interpolate, align_corners=False")
ax.plot(pos, deconv, "--", color="tab:orange", lw=2, label="ConvTranspose2d, bilinear kernel")
ax.plot(pos, corners, ":", color="tab:green", lw=2, label="F.interpolate, align_corners=True")
ax.plot(torch.arange(n), signal, "ko", label="input samples")
ax.set_xlabel("position in input pixels")
ax.set_xlim(-0.55, n - 0.45)
fig.legend(fontsize=8, loc="outside lower center", ncol=3)
ax.set_title(f"Upsampling 6 samples by {f}: equal inside, different at the border", fontsize=10)
print(
    svg(
        fig,
        alt="Transposed convolution with a bilinear kernel matches bilinear interpolation "
        "with align_corners=False inside the signal and drops towards zero at the borders",
    )
)
