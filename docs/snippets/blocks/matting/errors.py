import torch
import torch.nn.functional as F

from knowledge.blocks import make_trimap, matting_grad, matting_mse, matting_sad

torch.manual_seed(0)
H = W = 128
yy, xx = torch.meshgrid(torch.arange(H) - 63.5, torch.arange(W) - 63.5, indexing="ij")
r, theta = torch.hypot(yy, xx), torch.atan2(yy, xx)
alpha = ((40 + 4 * torch.sin(9 * theta) + 5 - r) / 10).clamp(0, 1)  # the same scene, (H, W)
mask = alpha > 0.5
trimap = make_trimap(mask, radius=8)
print(f"unknown pixels: {int((trimap == 128).sum())} of {H * W}")

blurred = F.avg_pool2d(mask.float()[None, None], 9, stride=1, padding=4, count_include_pad=False)
predictions = {
    "ground truth": alpha,
    "hard mask (a segmentation)": mask.float(),
    "mask, 9x9 box blur": blurred[0, 0],
    "truth shifted by 2 px": torch.roll(alpha, shifts=2, dims=1),
    "truth + noise (std 0.05)": (alpha + 0.05 * torch.randn(H, W)).clamp(0, 1),
}
print(f"{'prediction':<28}{'SAD':>8}{'MSE x1e3':>10}{'Grad':>8}")
for name, pred in predictions.items():
    sad = matting_sad(pred, alpha, trimap)
    mse = matting_mse(pred, alpha, trimap)
    grad = matting_grad(pred, alpha, trimap)
    print(f"{name:<28}{sad:8.3f}{1e3 * mse:10.2f}{grad:8.3f}")
