import torch

from knowledge.blocks import make_trimap

# A 9 x 13 mask: a blob and a thin 1-pixel bar (think: a strand of hair)
mask = torch.zeros(9, 13, dtype=torch.bool)
mask[2:7, 1:6] = True
mask[4, 6:12] = True
symbols = {0: ".", 128: "?", 255: "#"}


def show(t: torch.Tensor) -> list[str]:
    return ["".join(symbols[v] for v in row) for row in t.tolist()]


panels = {
    "mask": show(mask.to(torch.uint8) * 255),
    "disk, r=1": show(make_trimap(mask, 1)),
    "square, r=1": show(make_trimap(mask, 1, element="square")),
    "disk, r=2": show(make_trimap(mask, 2)),
}
print("   ".join(f"{name:<13}" for name in panels))
for rows in zip(*panels.values(), strict=True):
    print("   ".join(f"{row:<13}" for row in rows))
for r in (1, 2):
    t = make_trimap(mask, r)
    counts = {name: int((t == v).sum()) for v, name in ((255, "fg"), (128, "unknown"), (0, "bg"))}
    print(f"disk r={r}: {counts}")
