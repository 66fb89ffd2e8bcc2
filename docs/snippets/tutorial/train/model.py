import pprint

import torch

from knowledge.tutorial import TrainConfig, build_model, model_config

config = TrainConfig()
print(pprint.pformat(model_config(config), sort_dicts=False, width=96))

torch.manual_seed(config.seed)
model = build_model(config).eval()  # MODELS.build(model_config(config))
for name, part in model.named_children():
    count = sum(p.numel() for p in part.parameters())
    print(f"{name:<15}{type(part).__name__:<14}{count:>8,} parameters")

with torch.no_grad():
    images = torch.zeros(2, 3, 64, 64)
    features = model.backbone(images)
    print("backbone maps:", [tuple(f.shape[1:]) for f in features])
    print("head logits:  ", tuple(model.decode_head(features).shape[1:]))
    print("model output: ", tuple(model(images).shape[1:]))
