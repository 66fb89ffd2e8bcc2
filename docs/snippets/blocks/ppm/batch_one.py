import torch

from knowledge.blocks import PPM

torch.manual_seed(0)
x = torch.randn(1, 64, 32, 32)  # one image per GPU: common for segmentation crops
ppm = PPM(64, 16).train()
try:
    ppm(x)
except ValueError as err:
    print(f"train, batch 1, BN: {type(err).__name__}: {err}")

# The failing layer is the norm of the scale-1 branch: it sees (1, 16, 1, 1)
print("scale-1 branch before its norm:", tuple(ppm.stages[0].conv(ppm.stages[0].pool(x)).shape))

# Fixes: eval mode (running statistics), GroupNorm, or more images per batch (SyncBN)
print("eval, batch 1, BN:  ", tuple(ppm.eval()(x).shape))
gn = PPM(64, 16, norm_layer=dict(type="GN", num_groups=4)).train()
print("train, batch 1, GN: ", tuple(gn(x).shape))
print("train, batch 2, BN: ", tuple(ppm.train()(torch.randn(2, 64, 32, 32)).shape))
