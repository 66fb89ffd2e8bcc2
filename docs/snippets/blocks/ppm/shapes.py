import torch
import torch.nn.functional as F

from knowledge.blocks import PPM

torch.manual_seed(0)
# PSPNet on a ResNet-50 with output stride 8: a 512x512 crop gives a 64x64 map of 2048 channels.
# On the meta device tensors have shapes but no data: the shapes below cost no compute.
with torch.device("meta"):
    ppm = PPM(2048, 512, pool_scales=(1, 2, 3, 6)).eval()
    x = torch.randn(1, 2048, 64, 64)

print(f"{'step':<34} shape")
print(f"{'input x':<34} {tuple(x.shape)}")
with torch.no_grad():
    for s, stage in zip(ppm.pool_scales, ppm.stages, strict=True):
        pooled = stage.pool(x)
        reduced = stage.relu(stage.norm(stage.conv(pooled)))
        up = F.interpolate(reduced, size=x.shape[-2:], mode="bilinear", align_corners=False)
        print(f"{f'scale {s}: pool':<34} {tuple(pooled.shape)}")
        print(f"{f'scale {s}: 1x1 conv, norm, ReLU':<34} {tuple(reduced.shape)}")
        print(f"{f'scale {s}: bilinear upsampling':<34} {tuple(up.shape)}")
    y = ppm(x)
print(f"{'concat [x, 4 branches]':<34} {tuple(y.shape)}")
print("out_channels = 2048 + 4 * 512 =", ppm.out_channels)
