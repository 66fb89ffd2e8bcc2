r"""A synthetic segmentation dataset: textured shapes with noise, occlusion and an ignore region.

Every image is $64 \times 64$ RGB (``uint8``) and is made in code from a seed and its index
alone, so the dataset needs no download and two runs give identical tensors. A scene is
drawn in painter's order:

1. **Background**: a linear gradient between two random colours, darkened by a random
   texture (stripes or a checkerboard).
2. **Objects**: two to four shapes of the classes circle, square, triangle and ring, at
   random positions, sizes and angles. Each shape has the area $\pi r^2$ of a disc of radius
   $r \in [7, 15)$ pixels, so no class is larger by construction. Its colour is drawn
   around a class colour, but circle and ring share the warm colours and square and
   triangle the cool ones: colour tells the pair, only the shape tells the class. A random
   texture is blended in. Later shapes hide earlier ones (occlusion).
3. **A wire** (half of the images): a 3-pixel bar of random colour across the scene, in
   front of the objects; it is labelled background.
4. **An ignore region** (half of the images): a rectangle of random pixels, a "sensor
   glitch" whose true content is unknown; it is labelled ``IGNORE_INDEX`` = 255.
5. **Noise**: Gaussian noise of a random standard deviation, then rounding to 8 bits.

The labels are exact: a pixel belongs to the last shape that covers its centre.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

from knowledge.metrics import SegmentationMetric

__all__ = [
    "CLASSES",
    "IGNORE_INDEX",
    "IMAGE_SIZE",
    "NUM_CLASSES",
    "ShapesDataset",
    "class_pixel_counts",
    "colorize",
    "majority_baseline",
    "normalize",
    "render_shapes",
]

CLASSES = ("background", "circle", "square", "triangle", "ring")
"""Class names; the label of a pixel is the index of its class."""
NUM_CLASSES = len(CLASSES)
"""Number of classes K (5), background included."""
IGNORE_INDEX = 255
"""Label of the pixels that the loss and the metric leave out."""
IMAGE_SIZE = 64
"""Height and width of every image, in pixels."""
MAX_OBJECTS = 4
NUM_TRAIN = 1600
NUM_VAL = 400

# Mean colour of each foreground class, RGB in [0, 1]: circle and ring are warm, square and
# triangle cool. Each object's colour is drawn within +-0.125 of it, per channel.
_CLASS_COLORS = torch.tensor(
    [[0.85, 0.25, 0.20], [0.20, 0.35, 0.85], [0.25, 0.60, 0.75], [0.90, 0.50, 0.15]]
)
# Colours for showing label maps (not part of the data); ignored pixels are white.
_DISPLAY_COLORS = torch.tensor(
    [[40, 40, 40], [230, 75, 53], [77, 120, 230], [60, 180, 170], [245, 170, 40]],
    dtype=torch.uint8,
)
# Uniform numbers per image: 9 for the background, 12 per object, 7 for the wire,
# 5 for the ignore region and 1 for the noise level.
_SCENE, _PER_OBJECT, _WIRE, _PATCH = 9, 12, 7, 5
_NUM_UNIFORMS = _SCENE + MAX_OBJECTS * _PER_OBJECT + _WIRE + _PATCH + 1
_CHUNK = 256  # images rendered at once
_PATCH_MAX = 16  # largest side of the ignore region

_coords = torch.arange(IMAGE_SIZE, dtype=torch.float32) + 0.5  # pixel centres
_X = _coords.view(1, 1, IMAGE_SIZE)  # broadcasts to (N, H, W)
_Y = _coords.view(1, IMAGE_SIZE, 1)


@functools.lru_cache(maxsize=1)
def _texture_bank() -> Tensor:
    """31 binary textures of shape (H, W): flat, 24 stripes and 6 checkerboards.

    Integer arithmetic only, so that every machine makes the same bits.
    """
    x = torch.arange(IMAGE_SIZE).view(1, -1)
    y = torch.arange(IMAGE_SIZE).view(-1, 1)
    textures = [torch.zeros(IMAGE_SIZE, IMAGE_SIZE)]
    directions = ((1, 0), (0, 1), (1, 1), (1, -1), (1, 2), (2, 1), (1, -2), (2, -1))
    for period in (3, 4, 6):
        for a, b in directions:
            textures.append(((a * x + b * y + 256) // period % 2).float())
        textures.append(((x // period + y // period) % 2).float())
        textures.append((((x + y) // period + (x - y + 256) // period) % 2).float())
    return torch.stack(textures)  # (31, H, W)


def _choice(u: Tensor, n: int) -> Tensor:
    """Maps uniforms in [0, 1) to integers in [0, n) (clamped: float32 rounding)."""
    return (u * n).long().clamp_(max=n - 1)


def _cos_sin(angles: Tensor, offset: float = 0.0) -> tuple[Tensor, Tensor]:
    """Cosine and sine of ``angles + offset`` as (n, 1, 1) tensors, through Python's ``math``.

    Vectorised and scalar ``torch.cos`` may differ in the last bit; computing each value
    alone makes an image independent of the batch it is rendered in.
    """
    values = [a + offset for a in angles.tolist()]
    cos = torch.tensor([math.cos(a) for a in values], dtype=torch.float32).view(-1, 1, 1)
    sin = torch.tensor([math.sin(a) for a in values], dtype=torch.float32).view(-1, 1, 1)
    return cos, sin


# Masks of shape (n, H, W) from offsets dx (n, 1, W), dy (n, H, 1), radius r (n, 1, 1) and
# angle (n,). Every shape has the area pi r^2.
def _circle(dx: Tensor, dy: Tensor, r: Tensor, angle: Tensor) -> Tensor:
    return dx * dx + dy * dy <= r * r


def _square(dx: Tensor, dy: Tensor, r: Tensor, angle: Tensor) -> Tensor:
    half = r * (math.sqrt(math.pi) / 2)  # (2 h)^2 = pi r^2
    cos, sin = _cos_sin(angle)
    u, v = dx * cos + dy * sin, dy * cos - dx * sin  # rotated coordinates
    return (u.abs() <= half) & (v.abs() <= half)


def _triangle(dx: Tensor, dy: Tensor, r: Tensor, angle: Tensor) -> Tensor:
    # Equilateral with circumradius R: (3 sqrt(3) / 4) R^2 = pi r^2; inside all three
    # half-planes at distance R / 2 (the inradius) from the centre.
    inradius = r * (math.sqrt(4 * math.pi / (3 * math.sqrt(3))) / 2)
    mask = torch.ones(dx.shape[0], IMAGE_SIZE, IMAGE_SIZE, dtype=torch.bool)
    for j in range(3):
        cos, sin = _cos_sin(angle, 2 * math.pi * j / 3)
        mask &= dx * cos + dy * sin <= inradius
    return mask


def _ring(dx: Tensor, dy: Tensor, r: Tensor, angle: Tensor) -> Tensor:
    outer, inner = 1.25 * r, 0.75 * r  # pi (outer^2 - inner^2) = pi r^2
    d2 = dx * dx + dy * dy
    return (d2 <= outer * outer) & (d2 >= inner * inner)


_SHAPES: tuple[Callable[[Tensor, Tensor, Tensor, Tensor], Tensor], ...] = (
    _circle,
    _square,
    _triangle,
    _ring,
)


class _Draws:
    """Hands out the columns of an (N, D) table of uniforms in a fixed order."""

    def __init__(self, u: Tensor) -> None:
        self.u, self.used = u, 0

    def take(self, n: int = 1) -> Tensor:
        cols = self.u[:, self.used : self.used + n]
        self.used += n
        return cols[:, 0] if n == 1 else cols


def _image_seed(seed: int, index: int) -> int:
    """A 32-bit seed for image ``index`` of dataset ``seed``, hashed from both.

    torch's CPU generator (an mt19937) keeps only 32 bits of its seed, so packing the two
    numbers side by side into 64 bits would give every dataset seed the same images.
    """
    digest = hashlib.blake2b(f"shapes/{seed}/{index}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def _render_chunk(indices: list[int], seed: int) -> tuple[Tensor, Tensor]:
    uniforms, noise, junk = [], [], []
    for index in indices:  # everything random about image i comes from its own generator
        g = torch.Generator().manual_seed(_image_seed(seed, index))
        uniforms.append(torch.rand(_NUM_UNIFORMS, generator=g))
        noise.append(torch.randn(3, IMAGE_SIZE, IMAGE_SIZE, generator=g))
        junk.append(torch.rand(3, _PATCH_MAX, _PATCH_MAX, generator=g))
    draws, n = _Draws(torch.stack(uniforms)), len(indices)
    bank = _texture_bank()
    layers = MAX_OBJECTS + 2  # 0 background, 1..MAX_OBJECTS objects, then the wire
    # Per image and layer: label, base colour, second colour, texture and blend amount.
    # A pixel shows the layer that covers it last (painter's order); the arithmetic below
    # only tracks that "owner" layer, and the colours are looked up once at the end.
    kinds = torch.zeros(n, layers, dtype=torch.long)
    base, second = torch.zeros(n, layers, 3), torch.zeros(n, layers, 3)
    textures, blend = torch.zeros(n, layers, dtype=torch.long), torch.zeros(n, layers)

    # 1. Background: gradient from colour c0 to c1 along a random direction, then a texture.
    c0, c1 = draws.take(3), draws.take(3)
    cos, sin = _cos_sin(draws.take() * (2 * math.pi))
    ramp = ((_X - 32) * cos + (_Y - 32) * sin) / 90 + 0.5  # (n, H, W), about [0.15, 0.85]
    view = (n, 3, 1, 1)
    background = c0.view(view) + (c1 - c0).view(view) * ramp.unsqueeze(1)  # (n, 3, H, W)
    texture = bank[_choice(draws.take(), len(bank))]  # (n, H, W)
    background = background * (1 - 0.25 * texture.unsqueeze(1))
    owner = torch.zeros(n, IMAGE_SIZE, IMAGE_SIZE)  # float: max and * are fast, exact here
    count = 2 + _choice(draws.take(), MAX_OBJECTS - 1)  # 2, 3 or 4 objects

    # 2. Objects in painter's order: a later object hides an earlier one.
    for slot in range(MAX_OBJECTS):
        layer = slot + 1
        kind = 1 + _choice(draws.take(), NUM_CLASSES - 1)
        cx, cy = (8 + 48 * draws.take(2)).unbind(1)
        radius = 7 + 8 * draws.take()
        angle = draws.take() * (2 * math.pi)
        jitter = draws.take(3)
        kinds[:, layer] = kind
        base[:, layer] = (_CLASS_COLORS[kind - 1] + 0.25 * (jitter - 0.5)).clamp(0, 1)
        second[:, layer] = draws.take(3)
        textures[:, layer], blend[:, layer] = _choice(draws.take(), len(bank)), 0.5
        for k, shape in enumerate(_SHAPES, start=1):
            rows = torch.nonzero((kind == k) & (slot < count)).flatten()
            if rows.numel():
                mask = shape(
                    _X - cx[rows].view(-1, 1, 1),
                    _Y - cy[rows].view(-1, 1, 1),
                    radius[rows].view(-1, 1, 1),
                    angle[rows],
                )  # (m, H, W)
                owner[rows] = torch.maximum(owner[rows], mask.float() * layer)

    # 3. A wire in front of the scene (half of the images), labelled background.
    on, (px, py) = draws.take() < 0.5, (64 * draws.take(2)).unbind(1)
    cos, sin = _cos_sin(draws.take() * math.pi)
    base[:, -1] = second[:, -1] = draws.take(3)
    distance = ((_X - px.view(-1, 1, 1)) * sin - (_Y - py.view(-1, 1, 1)) * cos).abs()
    wire = (distance <= 1.5) & on.view(-1, 1, 1)
    owner = torch.maximum(owner, wire.float() * (layers - 1))

    # Look up every pixel's layer: label, colours and texture value.
    owner_flat = owner.long().flatten(1)  # (n, HW)
    labels = kinds.gather(1, owner_flat)  # (n, HW)
    index = owner_flat.unsqueeze(1).expand(n, 3, -1)  # (n, 3, HW)
    colors = base.transpose(1, 2).gather(2, index)  # (n, 3, HW)
    seconds = second.transpose(1, 2).gather(2, index)
    pixel = torch.arange(IMAGE_SIZE * IMAGE_SIZE)
    tex = bank.flatten(1)[textures.gather(1, owner_flat), pixel]  # (n, HW), 0 or 1
    amount = (blend.gather(1, owner_flat) * tex).unsqueeze(1)  # (n, 1, HW)
    shapes = (colors + (seconds - colors) * amount).view(n, 3, IMAGE_SIZE, IMAGE_SIZE)
    drawn = (owner > 0).float().unsqueeze(1)  # (n, 1, H, W)
    images = background + drawn * (shapes - background)
    labels = labels.view(n, IMAGE_SIZE, IMAGE_SIZE)

    # 4. An ignore region (half of the images): random pixels whose class is unknown.
    on = draws.take() < 0.5
    w, h = 8 + _choice(draws.take(), 9), 8 + _choice(draws.take(), 9)  # 8 to _PATCH_MAX
    x0 = _choice(draws.take(), IMAGE_SIZE) * (IMAGE_SIZE - w) // IMAGE_SIZE
    y0 = _choice(draws.take(), IMAGE_SIZE) * (IMAGE_SIZE - h) // IMAGE_SIZE
    xs, ys = torch.arange(IMAGE_SIZE).view(1, 1, -1), torch.arange(IMAGE_SIZE).view(1, -1, 1)
    inside_x = (xs >= x0.view(-1, 1, 1)) & (xs < (x0 + w).view(-1, 1, 1))
    inside_y = (ys >= y0.view(-1, 1, 1)) & (ys < (y0 + h).view(-1, 1, 1))
    patch = inside_x & inside_y & on.view(-1, 1, 1)  # (n, H, W)
    for i in torch.nonzero(on).flatten().tolist():  # paste each image's random pixels
        top, left, height, width = int(y0[i]), int(x0[i]), int(h[i]), int(w[i])
        images[i, :, top : top + height, left : left + width] = junk[i][:, :height, :width]
    labels = torch.maximum(labels, patch.long() * IGNORE_INDEX)  # labels < 255 elsewhere

    # 5. Sensor noise, then 8-bit quantisation.
    sigma = 0.02 + 0.08 * draws.take()
    images = (images + sigma.view(n, 1, 1, 1) * torch.stack(noise)).clamp(0, 1)
    assert draws.used == _NUM_UNIFORMS  # the layout of the table is fixed
    return (images * 255).round().to(torch.uint8), labels.to(torch.uint8)


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Runs the block with ``n`` intra-op threads, then restores the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def render_shapes(indices: Sequence[int], *, seed: int = 0) -> tuple[Tensor, Tensor]:
    r"""Renders the images with the given indices, deterministically.

    Image $i$ depends only on ``(seed, i)``: it is drawn from its own ``torch.Generator``,
    seeded with a hash of both, so ``render_shapes([5])`` equals row 5 of
    ``render_shapes(range(10))``. Angles go through Python's ``math`` and every other step
    is an exactly rounded tensor operation, so the batch size does not change a bit.

    Args:
        indices: image indices, each ``>= 0``.
        seed: dataset seed, ``>= 0``; another seed gives another dataset.

    Returns:
        ``(images, labels)``: ``uint8`` tensors of shapes (N, 3, 64, 64) and (N, 64, 64),
        with labels in $[0, 5)$ and ``IGNORE_INDEX``.

    Raises:
        TypeError: if ``seed`` or an index is not an int.
        ValueError: if ``seed`` or an index is out of range.

    Examples:
        >>> images, labels = render_shapes([0, 1, 2])
        >>> images.shape, images.dtype, labels.shape
        (torch.Size([3, 3, 64, 64]), torch.uint8, torch.Size([3, 64, 64]))
        >>> one, _ = render_shapes([2])
        >>> torch.equal(one[0], images[2])  # the same image, rendered alone
        True
        >>> sorted(set(labels.unique().tolist()) - {IGNORE_INDEX}) <= list(range(NUM_CLASSES))
        True
    """
    _check_int("seed", seed, 0)
    indices = [_check_int("every index", i, 0) for i in indices]
    if not indices:
        empty = torch.zeros(0, 3, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8)
        return empty, torch.zeros(0, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8)
    # One thread: elementwise work on small tensors gains little from more, and a busy
    # second core would stall every parallel region.
    with _torch_threads(1):
        chunks = range(0, len(indices), _CHUNK)
        parts = [_render_chunk(indices[i : i + _CHUNK], seed) for i in chunks]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


@functools.lru_cache(maxsize=4)
def _render_range(seed: int, start: int, stop: int) -> tuple[Tensor, Tensor]:
    """One split, rendered once per process and shared (callers copy before handing out)."""
    return render_shapes(range(start, stop), seed=seed)


def normalize(images: Tensor) -> Tensor:
    r"""Converts ``uint8`` images to the network's input: float in $[-1, 1]$.

    $x \mapsto (x / 255 - 0.5) / 0.5$, the same as torchvision's
    ``Normalize(mean=0.5, std=0.5)`` after ``ToTensor``.

    Args:
        images: ``uint8`` images of shape (..., 3, H, W).

    Returns:
        ``float32`` tensor of the same shape.

    Raises:
        TypeError: if ``images`` is not ``uint8``.

    Examples:
        >>> normalize(torch.tensor([0, 51, 255], dtype=torch.uint8))
        tensor([-1.0000, -0.6000,  1.0000])
    """
    if not isinstance(images, Tensor) or images.dtype != torch.uint8:
        got = images.dtype if isinstance(images, Tensor) else type(images).__name__
        raise TypeError(f"images must be a uint8 tensor, got {got}")
    return images.float() / 127.5 - 1.0


class ShapesDataset(Dataset):
    r"""The shapes dataset as a ``torch.utils.data.Dataset`` of (image, label) pairs.

    The first ``num_train`` indices form the training split and the next ``num_val`` the
    validation split, so no validation image is ever trained on. The split is rendered when
    the dataset is created (about 2,000 images take well under a second) and kept in memory
    as ``uint8``; one render per process is cached and shared by all datasets with the same
    arguments.

    Args:
        split: ``"train"`` or ``"val"``.
        seed: dataset seed.
        num_train: size of the training split.
        num_val: size of the validation split.

    Attributes:
        images: ``uint8`` tensor of shape (N, 3, 64, 64).
        labels: ``uint8`` tensor of shape (N, 64, 64).

    Raises:
        ValueError: for an unknown split or a negative size.

    Examples:
        >>> val = ShapesDataset("val", num_train=8, num_val=4)
        >>> len(val), val.indices
        (4, range(8, 12))
        >>> image, label = val[0]
        >>> image.shape, image.dtype, label.shape, label.dtype
        (torch.Size([3, 64, 64]), torch.float32, torch.Size([64, 64]), torch.int64)
        >>> torch.equal(val.images[0], render_shapes([8])[0][0])
        True
    """

    classes = CLASSES
    num_classes = NUM_CLASSES
    ignore_index = IGNORE_INDEX

    def __init__(
        self,
        split: str = "train",
        *,
        seed: int = 0,
        num_train: int = NUM_TRAIN,
        num_val: int = NUM_VAL,
    ) -> None:
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        _check_int("seed", seed, 0)
        _check_int("num_train", num_train, 0)
        _check_int("num_val", num_val, 0)
        self.split, self.seed = split, seed
        start, stop = (0, num_train) if split == "train" else (num_train, num_train + num_val)
        self.indices = range(start, stop)
        images, labels = _render_range(seed, start, stop)
        self.images, self.labels = images.clone(), labels.clone()

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        """Image ``i`` as float in $[-1, 1]$ (3, 64, 64) and its int64 label map (64, 64)."""
        return normalize(self.images[i]), self.labels[i].long()


def class_pixel_counts(
    labels: Tensor, *, num_classes: int = NUM_CLASSES, ignore_index: int = IGNORE_INDEX
) -> Tensor:
    """Counts the pixels of each class, leaving out the ignored ones.

    Args:
        labels: integer label maps of any shape.
        num_classes: number of classes K.
        ignore_index: label of the pixels that are not counted.

    Returns:
        An int64 tensor of shape (K,).

    Raises:
        ValueError: if a label other than ``ignore_index`` is outside $[0, K)$.

    Examples:
        >>> class_pixel_counts(torch.tensor([[0, 0, 3], [255, 1, 0]]))
        tensor([3, 1, 0, 1, 0])
    """
    valid = labels[labels != ignore_index].long()
    if valid.numel() and (valid.min() < 0 or valid.max() >= num_classes):
        bad = valid[(valid < 0) | (valid >= num_classes)].unique().tolist()
        raise ValueError(f"labels outside [0, {num_classes}) that are not ignored: {bad[:10]}")
    return torch.bincount(valid, minlength=num_classes)


def majority_baseline(
    labels: Tensor, *, num_classes: int = NUM_CLASSES, ignore_index: int = IGNORE_INDEX
) -> dict[str, float | int]:
    r"""The scores of predicting the most frequent class everywhere.

    If class $c$ covers a fraction $p_c$ of the valid pixels and every class occurs in the
    ground truth, predicting $c$ everywhere gives $IoU_c = p_c$ (no false negatives, and
    everything else is a false positive), $IoU = 0$ for the other classes, and hence
    $\mathrm{mIoU} = p_c / K$, while pixel accuracy is $p_c$. A model has learnt something
    only once it clearly beats this.

    Args:
        labels: integer label maps, for example of shape (N, H, W).
        num_classes: number of classes K.
        ignore_index: label of the pixels that are left out.

    Returns:
        ``{"class": c, "aAcc": ..., "mIoU": ...}``, computed with
        [`SegmentationMetric`][knowledge.metrics.SegmentationMetric].

    Examples:
        Class 0 holds 6 of 8 valid pixels, so mIoU = (6/8) / 3 = 0.25:

        >>> labels = torch.tensor([[0, 0, 0, 1], [0, 0, 0, 2], [255, 255, 255, 255]])
        >>> majority_baseline(labels, num_classes=3)
        {'class': 0, 'aAcc': 0.75, 'mIoU': 0.25}
    """
    counts = class_pixel_counts(labels, num_classes=num_classes, ignore_index=ignore_index)
    majority = int(counts.argmax())
    metric = SegmentationMetric(num_classes, ignore_index=ignore_index)
    metric.update(torch.full_like(labels, majority), labels)
    scores = metric.compute()
    return {"class": majority, "aAcc": scores["aAcc"], "mIoU": scores["mIoU"]}


def colorize(labels: Tensor) -> Tensor:
    """Turns label maps into RGB images for display; ignored pixels become white.

    Args:
        labels: integer label maps of shape (..., H, W) with values in $[0, 5)$ or
            ``IGNORE_INDEX``.

    Returns:
        ``uint8`` tensor of shape (..., H, W, 3), ready for ``plt.imshow``.

    Examples:
        >>> colorize(torch.tensor([[0, 255]])).tolist()
        [[[40, 40, 40], [255, 255, 255]]]
    """
    labels = labels.long()
    out = torch.full((*labels.shape, 3), 255, dtype=torch.uint8)
    known = labels != IGNORE_INDEX
    out[known] = _DISPLAY_COLORS[labels[known].clamp(0, NUM_CLASSES - 1)]
    return out
