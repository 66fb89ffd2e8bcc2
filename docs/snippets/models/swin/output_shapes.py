import torch

from knowledge.models import SwinTransformer

torch.manual_seed(0)
model = SwinTransformer().eval()  # Swin-T: embed_dim 96, depths (2, 2, 6, 2)
backbone = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("norm"))
print(f"parameters without the output norms: {backbone:,}")
print(f"with norm0..norm3:                  {sum(p.numel() for p in model.parameters()):,}")
for i, layer in enumerate(model.layers):
    shifts = [block.shift_size for block in layer.blocks]
    merge = "PatchMerging" if layer.downsample is not None else "-"
    print(f"stage {i}: heads {layer.blocks[0].attn.num_heads:>2}, shifts {shifts}, then {merge}")


def stage_shapes(h, w):
    """Only patch_embed and PatchMerging change the shape; the blocks keep it."""
    x = model.patch_embed(torch.zeros(1, 3, h, w)).permute(0, 2, 3, 1)  # (B, H/4, W/4, C)
    shapes = []
    for layer in model.layers:
        shapes.append((x.shape[3], x.shape[1], x.shape[2]))  # as (C, H, W)
        if layer.downsample is not None:
            x = layer.downsample(x)  # (B, H, W, C) -> (B, ceil(H/2), ceil(W/2), 2C)
    return shapes


with torch.no_grad():
    for h, w in [(512, 512), (97, 130)]:
        print(f"input {h}x{w}: " + ", ".join(str(s) for s in stage_shapes(h, w)))
    feats = model(torch.randn(1, 3, 97, 130))  # the full forward pass, all 12 blocks
print("full forward, 97x130:", ", ".join(str(tuple(f.shape[1:])) for f in feats))
print("same as the traced shapes:", [tuple(f.shape[1:]) for f in feats] == stage_shapes(97, 130))
