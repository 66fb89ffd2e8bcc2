from knowledge.models import slide_windows


def grids(length: int, crop: int, stride: int) -> int:
    return max(length - crop + stride - 1, 0) // stride + 1


cases = [  # (H, W, crop, stride): mmseg's ADE20K and Cityscapes test settings
    (512, 683, 512, 341),
    (1024, 2048, 769, 513),
    (300, 200, 512, 341),
]
for H, W, crop, stride in cases:
    windows = slide_windows(H, W, crop, stride)
    print(
        f"{H}x{W}, crop {crop}, stride {stride}: {grids(H, crop, stride)} x "
        f"{grids(W, crop, stride)} = {len(windows)} window{'s' if len(windows) > 1 else ''}"
    )
    for y1, y2, x1, x2 in windows:
        print(f"  rows {y1:>4}:{y2:<4}  cols {x1:>4}:{x2:<4}  ({y2 - y1} x {x2 - x1})")
