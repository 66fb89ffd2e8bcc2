import pprint

import torch

from knowledge.models import swin_t_upernet_config
from knowledge.registry import MODELS

cfg = swin_t_upernet_config(num_classes=150)  # mmseg's Swin-T UPerNet for ADE20K
print(pprint.pformat(cfg, sort_dicts=False, width=96))

# The same structure, scaled down so that it builds in milliseconds
small = swin_t_upernet_config(num_classes=5)
small["backbone"].update(embed_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4))
small["decode_head"].update(in_channels=(16, 32, 64, 128), channels=32)
small["auxiliary_head"].update(in_channels=64, channels=16)
torch.manual_seed(0)
model = MODELS.build(small)  # builds the nested dicts first, then EncoderDecoder(...)
print()
for name in ("backbone", "neck", "decode_head", "auxiliary_head"):
    part = getattr(model, name)
    print(f"model.{name:<15} -> {type(part).__name__ if part is not None else None}")
print("decode_head norm:", type(model.decode_head.fpn_bottleneck.norm).__name__)
print("test_cfg:", model.test_cfg)
