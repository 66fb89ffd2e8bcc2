import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

torch.manual_seed(0)


def make_backbone() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())


def freeze_bn(model: nn.Module) -> None:
    """Eval mode for every BN layer (fixed statistics) and no gradient for its affine part."""
    for m in model.modules():
        if isinstance(m, _BatchNorm):  # BatchNorm1d/2d/3d and SyncBatchNorm
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)


x = torch.randn(2, 3, 16, 16)

# The usual mistake: freeze once, then the training loop calls model.train()
model = make_backbone()
freeze_bn(model)
model.train()  # sets training=True on every submodule, BN included
before = model[1].running_mean.clone()
model(x)
changed = not torch.equal(before, model[1].running_mean)
print(f"frozen once, then model.train(): BN training={model[1].training}, stats changed={changed}")


# mmseg's norm_eval: re-freeze inside train(), so that every model.train() keeps BN frozen
class Backbone(nn.Sequential):
    def __init__(self, norm_eval: bool = True) -> None:
        super().__init__(*make_backbone())
        self.norm_eval = norm_eval

    def train(self, mode: bool = True) -> "Backbone":
        super().train(mode)
        if mode and self.norm_eval:
            freeze_bn(self)
        return self


model = Backbone().train()
before = model[1].running_mean.clone()
model(x)
changed = not torch.equal(before, model[1].running_mean)
print(f"norm_eval in train():            BN training={model[1].training}, stats changed={changed}")
print("BN weight requires_grad:", model[1].weight.requires_grad)
