import torch

from knowledge.models import window_partition, window_reverse

x = torch.arange(36).view(1, 6, 6, 1)  # token ids, row by row; (B, H, W, C)
windows = window_partition(x, 3)  # (B * nW, M, M, C)
print(f"{tuple(x.shape)} -> {tuple(windows.shape)}")
for k in range(windows.shape[0]):
    print(f"window {k}: {windows[k, :, :, 0].flatten().tolist()}")
print("window_reverse restores the map:", torch.equal(window_reverse(windows, 3, 6, 6), x))
