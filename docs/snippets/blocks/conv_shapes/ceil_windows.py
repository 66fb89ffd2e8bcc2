import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from knowledge.blocks import conv_output_size
from knowledge.plotting import svg


def draw_cells(ax, size, p, width):
    """Padded index i holds input pixel i - p, a padding zero, or nothing (dotted)."""
    for i in range(width):
        if p <= i < size + p:
            face, label = "white", str(i - p)
        elif i < size + 2 * p:
            face, label = "0.85", "pad"
        else:
            face, label = "none", ""
        ax.add_patch(Rectangle((i, 3), 1, 1, fc=face, ec="0.3", ls="-" if label else ":"))
        ax.text(i + 0.5, 3.5, label, ha="center", va="center", fontsize=8)


def draw_windows(ax, y, label, k, s, count, kept):
    """One bar per window position; the windows torch drops are red and hatched."""
    ax.text(-0.3, y + 0.4, label, ha="right", va="center", fontsize=8)
    for w in range(count):
        ok = w < kept
        color = "tab:blue" if ok else "tab:red"
        bar = Rectangle(
            (w * s + 0.1, y + 0.1 + 0.25 * (w % 2)),
            k - 0.2,
            0.45,
            fc=color,
            ec=color,
            alpha=0.35 if ok else 0.2,
            hatch=None if ok else "//",
        )
        ax.add_patch(bar)
    note = f"{kept} window{'s' if kept > 1 else ''}"
    if count != kept:
        note += f" (plain ceiling: {count}, the last dropped)"
    return note


def draw(ax, size, k, s, p, title):
    floor_n = conv_output_size(size, k, s, p)
    naive_n = -(-(size + 2 * p - k) // s) + 1  # the plain ceiling formula
    torch_n = conv_output_size(size, k, s, p, ceil_mode=True, layer="maxpool")
    width = max(size + 2 * p, (naive_n - 1) * s + k)
    draw_cells(ax, size, p, width)
    rows = [("ceil_mode=False", floor_n, floor_n), ("ceil_mode=True", naive_n, torch_n)]
    for row, (label, count, kept) in enumerate(rows):
        note = draw_windows(ax, 1.6 - 1.3 * row, label, k, s, count, kept)
        ax.text(width + 0.3, 2.0 - 1.3 * row, note, va="center", fontsize=8)
    ax.set_title(title, fontsize=9, loc="left")
    ax.set(xlim=(-3.2, width + 8), ylim=(0, 4.2))
    ax.axis("off")


fig, axes = plt.subplots(2, 1, figsize=(7.5, 3.6), layout="constrained")
draw(axes[0], 4, 3, 2, 0, "H=4, k=3, s=2, p=0: ceil mode adds a window that hangs over the edge")
draw(axes[1], 5, 2, 2, 1, "H=5, k=2, s=2, p=1: a window starting in the right padding is dropped")
print(svg(fig, alt="Pooling windows in floor and ceil mode, with the window torch drops"))
