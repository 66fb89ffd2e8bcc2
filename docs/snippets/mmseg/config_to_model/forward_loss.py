import math

import torch
import torch.nn.functional as F

from knowledge.models import swin_t_upernet_config
from knowledge.registry import MODELS

torch.manual_seed(0)
K, IGNORE = 4, 255
cfg = swin_t_upernet_config(num_classes=K)  # scaled down as before
cfg["backbone"].update(embed_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4))
cfg["decode_head"].update(in_channels=(16, 32, 64, 128), channels=32)
cfg["auxiliary_head"].update(in_channels=64, channels=16)
# No dropout and no stochastic depth, so the two loss computations below see the same output
cfg["backbone"]["drop_path_rate"] = 0.0
for head in ("decode_head", "auxiliary_head"):
    cfg[head]["dropout_ratio"] = 0.0
model = MODELS.build(cfg).train()

img = torch.randn(2, 3, 32, 48)
target = torch.randint(0, K, (2, 32, 48))
target[:, :4] = IGNORE  # a band of ignored pixels, as at the border of a padded crop

# Inside the model: backbone -> (neck) -> heads -> bilinear resize to the image.
# A forward hook keeps the backbone's output of this one pass, for printing.
seen = {}
model.backbone.register_forward_hook(lambda module, args, output: seen.update(feats=output))
out = model.forward_train(img)
for i, f in enumerate(seen["feats"]):
    print(f"backbone stage {i}: {tuple(f.shape)}")
for key, logits in out.items():
    print(f"out[{key!r}]: {tuple(logits.shape)}")

# mmseg's losses: CrossEntropyLoss on each head, the auxiliary one weighted by 0.4
loss_decode = F.cross_entropy(out["decode"], target, ignore_index=IGNORE)
loss_aux = 0.4 * F.cross_entropy(out["aux"], target, ignore_index=IGNORE)
loss = loss_decode + loss_aux
print(f"\nloss_decode = {loss_decode:.4f}  (untrained, close to ln K = {math.log(K):.4f})")
print(f"loss_aux    = {loss_aux:.4f}  (0.4 x its cross-entropy)")
loss.backward()

# knowledge's EncoderDecoder.loss does the same, reading each head's loss_weight (0.4) from
# the config and naming the entries as mmseg's logs do
for name, value in model.loss(img, target).items():
    print(f"{name:<15}{value:.4f}")

# mmseg's default avg_non_ignore=False divides by ALL pixels, ignored ones included
per_pixel = F.cross_entropy(out["decode"], target, ignore_index=IGNORE, reduction="none")
valid = (target != IGNORE).sum().item()
print(f"\nvalid pixels {valid} of {target.numel()}")
print(f"mean over valid pixels (PyTorch, avg_non_ignore=True): {per_pixel.sum() / valid:.4f}")
print(f"mean over all pixels   (mmseg default)               : {per_pixel.mean():.4f}")

grads = {
    n: sum(p.grad.norm() ** 2 for p in m.parameters()) ** 0.5 for n, m in model.named_children()
}
print("\ngradient norm per part:", {n: round(float(g), 4) for n, g in grads.items()})
