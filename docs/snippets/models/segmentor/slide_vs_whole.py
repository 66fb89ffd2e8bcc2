import torch

from knowledge.models import slide_windows, swin_t_upernet_config
from knowledge.registry import MODELS

torch.manual_seed(0)
cfg = swin_t_upernet_config(num_classes=5)  # the Swin-T UPerNet layout, scaled down
cfg["backbone"].update(embed_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4))
cfg["decode_head"].update(in_channels=(16, 32, 64, 128), channels=32)
cfg["auxiliary_head"].update(in_channels=64, channels=16)
model = MODELS.build(cfg).eval()
img = torch.randn(1, 3, 64, 112)

with torch.no_grad():
    whole = model.whole_inference(img)
    slide = model.slide_inference(img, crop_size=64, stride=48)

print("windows of 64, stride 48:", slide_windows(64, 112, 64, 48))
print("logits:", tuple(whole.shape), "and", tuple(slide.shape))
print(f"max |slide - whole| = {(slide - whole).abs().max():.2f}")
agree = (slide.argmax(1) == whole.argmax(1)).float().mean()
print(f"same label on {agree:.1%} of the pixels")
