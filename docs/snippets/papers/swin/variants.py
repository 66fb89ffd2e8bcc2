import torch

from knowledge.models import SwinTransformer

# The paper's variants (Section 3.3): width C and blocks per stage; heads = C / 32 per stage.
variants = {
    "Swin-T": (96, (2, 2, 6, 2)),
    "Swin-S": (96, (2, 2, 18, 2)),
    "Swin-B": (128, (2, 2, 18, 2)),
}
with torch.device("meta"):  # parameter counts and shapes only: no memory, no init cost
    models = {
        name: SwinTransformer(c, depths, tuple(c * 2**i // 32 for i in range(4)))
        for name, (c, depths) in variants.items()
    }
    feats = models["Swin-T"](torch.zeros(1, 3, 512, 512))

print(f"{'':<7}{'backbone':>12}{'+ seg norms':>13}{'classifier':>13}")
for name, model in models.items():
    c8 = 8 * variants[name][0]  # channels of the last stage
    body = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("norm"))
    seg = sum(p.numel() for p in model.parameters())  # + norm0..norm3, one per output
    cls = body + 2 * c8 + (c8 * 1000 + 1000)  # + final LayerNorm + 1000-way linear head
    print(f"{name:<7}{body:>12,}{seg:>13,}{cls:>13,}")
print("Swin-T on 512x512:", ", ".join(str(tuple(f.shape[1:])) for f in feats))
