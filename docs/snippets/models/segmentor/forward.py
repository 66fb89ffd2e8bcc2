import torch

from knowledge.models import swin_t_upernet_config
from knowledge.registry import MODELS

torch.manual_seed(0)
cfg = swin_t_upernet_config(num_classes=5)  # the Swin-T UPerNet layout, scaled down
cfg["backbone"].update(embed_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4))
cfg["decode_head"].update(in_channels=(16, 32, 64, 128), channels=32)
cfg["auxiliary_head"].update(in_channels=64, channels=16)
model = MODELS.build(cfg).eval()

# Forward hooks record what the backbone and the decode head return inside one forward pass
seen = {}
for name in ("backbone", "decode_head", "auxiliary_head"):
    getattr(model, name).register_forward_hook(
        lambda module, args, output, name=name: seen.__setitem__(name, output)
    )

img = torch.randn(1, 3, 97, 130)  # odd sizes on purpose
with torch.no_grad():
    out = model.forward_train(img)  # decode and auxiliary logits, for the two losses

print(f"{'image':<18} {tuple(img.shape)}")
for i, f in enumerate(seen["backbone"]):
    print(f"{f'backbone stage {i}':<18} {tuple(f.shape)!s:<18} stride {2 ** (i + 2)}")
print(f"{'decode_head':<18} {tuple(seen['decode_head'].shape)!s:<18} stride 4")
print(f"{'auxiliary_head':<18} {tuple(seen['auxiliary_head'].shape)!s:<18} stride 16")
for key, logits in out.items():
    print(f"{f'out[{key!r}]':<18} {tuple(logits.shape)!s:<18} bilinear to the image size")
