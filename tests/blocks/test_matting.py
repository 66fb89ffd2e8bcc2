"""Tests for knowledge.blocks.matting against plain-Python references.

Oracles: a pixel-by-pixel trimap that tests the distance condition directly (no pooling);
SAD and MSE as Python sums over the unknown pixels; the DIM gradient error rebuilt from
gaussgradient.m's formulas with math.exp and an explicit convolution loop with clamped
(replicated) borders; and small cases worked by hand.
"""

from __future__ import annotations

import math

import pytest
import torch

from knowledge.blocks import (
    composite,
    gaussian_gradient,
    make_trimap,
    matting_grad,
    matting_mse,
    matting_sad,
)

# --------------------------------------------------------------------------------------
# Trimap
# --------------------------------------------------------------------------------------


def reference_trimap(mask: list[list[bool]], radius: int, element: str) -> list[list[int]]:
    """255 if every in-image pixel within the element is in the mask, 0 if none is, else 128."""
    h, w = len(mask), len(mask[0])
    out = [[0] * w for _ in range(h)]
    for y in range(h):
        for x in range(w):
            seen = set()
            for dy in range(-radius, radius + 1):
                for dx in range(-radius, radius + 1):
                    if element == "disk" and dy * dy + dx * dx > radius * radius:
                        continue
                    if 0 <= y + dy < h and 0 <= x + dx < w:
                        seen.add(mask[y + dy][x + dx])
            out[y][x] = 255 if seen == {True} else 0 if seen == {False} else 128
    return out


def random_blobs(seed: int, h: int, w: int) -> torch.Tensor:
    """A few random discs and rectangles, some touching the border, plus speckle."""
    gen = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    mask = torch.zeros(h, w, dtype=torch.bool)
    for _ in range(3):
        cy, cx = (torch.randint(0, n, (1,), generator=gen).item() for n in (h, w))
        r = torch.randint(2, 6, (1,), generator=gen).item()
        mask |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    mask[h // 2 :, : w // 4] = True
    mask ^= torch.rand(h, w, generator=gen) < 0.03
    return mask


@pytest.mark.parametrize("element", ["disk", "square"])
@pytest.mark.parametrize("radius", [0, 1, 2, 3, 5])
def test_trimap_matches_the_pixelwise_distance_condition(radius, element):
    mask = random_blobs(radius, 17, 23)
    expected = reference_trimap(mask.tolist(), radius, element)
    trimap = make_trimap(mask, radius, element=element)
    assert trimap.dtype == torch.uint8 and trimap.shape == mask.shape
    assert trimap.tolist() == expected


def test_trimap_batched_shapes_and_mask_dtypes():
    masks = torch.stack([random_blobs(s, 12, 15) for s in range(3)])  # (3, 12, 15)
    expected = [reference_trimap(m.tolist(), 2, "disk") for m in masks]
    for m in (masks, masks[:, None], masks.to(torch.uint8), masks.double()):
        out = make_trimap(m, 2)
        assert out.shape == m.shape
        assert out.reshape(3, 12, 15).tolist() == expected


def test_trimap_border_neither_erodes_nor_dilates():
    assert make_trimap(torch.ones(6, 7, dtype=torch.bool), 3).unique().tolist() == [255]
    assert make_trimap(torch.zeros(6, 7, dtype=torch.bool), 3).unique().tolist() == [0]


def test_trimap_hand_worked_disk_radius_2():
    # One foreground pixel at the centre (3, 3) of a 7 x 7 image, radius 2. Nothing survives
    # the erosion; the unknown band is the digital disk dy^2 + dx^2 <= 4:
    #   dy = 0: dx = -2..2 (5 px); dy = +-1: dx = -1..1 (1 + 1 <= 4 but 1 + 4 > 4, 3 px each);
    #   dy = +-2: dx = 0 only (1 px each). 5 + 6 + 2 = 13 unknown pixels.
    mask = torch.zeros(7, 7, dtype=torch.bool)
    mask[3, 3] = True
    trimap = make_trimap(mask, 2)
    assert (trimap == 255).sum().item() == 0
    assert (trimap == 128).sum().item() == 13
    assert trimap[1].tolist() == [0, 0, 0, 128, 0, 0, 0]
    assert trimap[2].tolist() == [0, 0, 128, 128, 128, 0, 0]
    assert trimap[3].tolist() == [0, 128, 128, 128, 128, 128, 0]
    # The square element of radius 2 covers the whole 5 x 5 block: 25 unknown pixels.
    assert (make_trimap(mask, 2, element="square") == 128).sum().item() == 25


@pytest.mark.parametrize(
    ("mask", "radius", "kwargs", "error", "match"),
    [
        (torch.tensor([[0, 255]]), 1, {}, ValueError, r"binary.*\[255\].*mask > 127"),
        (torch.zeros(5, dtype=torch.bool), 1, {}, ValueError, r"\(\.\.\., H, W\)"),
        (torch.zeros(3, 3, dtype=torch.bool), -1, {}, ValueError, "radius must be >= 0"),
        (torch.zeros(3, 3, dtype=torch.bool), 1.5, {}, TypeError, "radius must be an int"),
        (torch.zeros(3, 3, dtype=torch.bool), 1, {"element": "cross"}, ValueError, "'cross'"),
        ([[0, 1]], 1, {}, TypeError, "mask must be a tensor"),
    ],
)
def test_trimap_bad_inputs(mask, radius, kwargs, error, match):
    with pytest.raises(error, match=match):
        make_trimap(mask, radius, **kwargs)


# --------------------------------------------------------------------------------------
# Compositing
# --------------------------------------------------------------------------------------


def test_composite_matches_the_equation_elementwise():
    gen = torch.Generator().manual_seed(0)
    alpha = torch.rand(2, 1, 4, 5, generator=gen, dtype=torch.float64)
    fg = torch.rand(2, 3, 4, 5, generator=gen, dtype=torch.float64)
    bg = torch.rand(2, 3, 4, 5, generator=gen, dtype=torch.float64)
    out = composite(alpha, fg, bg)
    assert out.shape == (2, 3, 4, 5)
    for b in range(2):
        for c in range(3):
            for y in range(4):
                for x in range(5):
                    a = alpha[b, 0, y, x].item()
                    expected = a * fg[b, c, y, x].item() + (1 - a) * bg[b, c, y, x].item()
                    assert out[b, c, y, x].item() == pytest.approx(expected, abs=1e-15)


def test_composite_endpoints_and_gradient():
    fg, bg = torch.full((1, 3, 2, 2), 0.8), torch.full((1, 3, 2, 2), 0.2)
    assert torch.equal(composite(torch.ones(1, 1, 2, 2), fg, bg), fg)
    assert torch.equal(composite(torch.zeros(1, 1, 2, 2), fg, bg), bg)
    alpha = torch.full((1, 1, 2, 2), 0.3, requires_grad=True)
    composite(alpha, fg, bg).sum().backward()  # dI/dalpha = F - B = 0.6, three channels
    torch.testing.assert_close(alpha.grad, torch.full((1, 1, 2, 2), 1.8))


@pytest.mark.parametrize(
    ("alpha", "fg", "error", "match"),
    [
        (torch.full((1, 1, 2, 2), 1.5), torch.zeros(1, 3, 2, 2), ValueError, r"\[0, 1\].*1\.5"),
        (torch.full((1, 1, 2, 2), math.nan), torch.zeros(1, 3, 2, 2), ValueError, r"\[0, 1\]"),
        (torch.ones(1, 1, 2, 2, dtype=torch.uint8), torch.zeros(1, 3, 2, 2), TypeError, "255"),
        (torch.ones(1, 1, 2, 2), torch.zeros(1, 3, 2, 3), ValueError, "do not broadcast"),
        (torch.ones(1, 1, 2, 2), torch.zeros(1, 3, 2, 2, dtype=torch.long), TypeError, "fg"),
    ],
)
def test_composite_bad_inputs(alpha, fg, error, match):
    with pytest.raises(error, match=match):
        composite(alpha, fg, torch.zeros(1, 3, 2, 2))


# --------------------------------------------------------------------------------------
# SAD and MSE
# --------------------------------------------------------------------------------------


def random_matting_case(seed: int, shape: tuple[int, ...]):
    gen = torch.Generator().manual_seed(seed)
    pred = torch.rand(shape, generator=gen, dtype=torch.float64)
    target = torch.rand(shape, generator=gen, dtype=torch.float64)
    target[torch.rand(shape, generator=gen) < 0.3] = 1.0
    codes = torch.tensor([0, 128, 255], dtype=torch.uint8)
    trimap = codes[torch.randint(0, 3, shape, generator=gen)]
    return pred, target, trimap


def reference_sad_mse(pred, target, trimap) -> tuple[float, float]:
    total_abs, total_sq, count = 0.0, 0.0, 0
    for p, t, code in zip(
        pred.flatten().tolist(), target.flatten().tolist(), trimap.flatten().tolist(), strict=True
    ):
        if code == 128:
            total_abs += abs(p - t)
            total_sq += (p - t) ** 2
            count += 1
    return total_abs / 1000, (total_sq / count if count else math.nan)


def test_sad_and_mse_match_python_sums_for_one_image_and_a_batch():
    pred, target, trimap = random_matting_case(0, (3, 1, 19, 21))
    sad, mse = matting_sad(pred, target, trimap), matting_mse(pred, target, trimap)
    assert sad.shape == mse.shape == (3,)
    for b in range(3):
        ref_sad, ref_mse = reference_sad_mse(pred[b], target[b], trimap[b])
        assert sad[b].item() == pytest.approx(ref_sad, rel=1e-12)
        assert mse[b].item() == pytest.approx(ref_mse, rel=1e-12)
        single = matting_sad(pred[b, 0], target[b, 0], trimap[b, 0])
        assert single.dim() == 0 and single.item() == pytest.approx(ref_sad, rel=1e-12)
    assert matting_sad(pred[:, 0], target[:, 0], trimap[:, 0]).shape == (3,)


def test_sad_and_mse_hand_worked():
    # Unknown pixels: |0.5 - 1| = 0.5, |0.25 - 0| = 0.25 -> SAD = 0.75 / 1000;
    # MSE = (0.25 + 0.0625) / 2 = 0.15625. The known pixels' errors (1.0 and 0.75) are ignored.
    pred = torch.tensor([[0.5, 0.25, 1.0, 0.75]], dtype=torch.float64)
    target = torch.tensor([[1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    trimap = torch.tensor([[128, 128, 255, 0]], dtype=torch.uint8)
    assert matting_sad(pred, target, trimap).item() == pytest.approx(0.00075, rel=1e-15)
    assert matting_mse(pred, target, trimap).item() == 0.15625


def test_errors_are_zero_for_a_perfect_prediction_and_mse_nan_without_unknown():
    pred, target, trimap = random_matting_case(1, (11, 13))
    for fn in (matting_sad, matting_mse, matting_grad):
        assert fn(target, target, trimap).item() == 0.0
    known = torch.full((11, 13), 255, dtype=torch.uint8)
    assert matting_sad(pred, target, known).item() == 0.0
    assert math.isnan(matting_mse(pred, target, known).item())
    assert matting_grad(pred, target, known).item() == 0.0


U = torch.full((4, 4), 128, dtype=torch.uint8)


@pytest.mark.parametrize(
    ("pred", "target", "trimap", "error", "match"),
    [
        (torch.full((4, 4), 255.0), torch.rand(4, 4), U, ValueError, "divide by 255"),
        (torch.full((4, 4), 200, dtype=torch.uint8), torch.rand(4, 4), U, TypeError, "floating"),
        (torch.rand(4, 5), torch.rand(4, 4), U, ValueError, "same shape"),
        (torch.rand(4, 4), torch.rand(4, 4), U - 1, ValueError, r"\[127\].*nearest"),
        (torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4), torch.zeros(2, 3, 4), ValueError, "same"),
        (torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4), U.expand(2, 3, 4, 4), ValueError, "B, 1"),
    ],
)
def test_error_functions_reject_bad_inputs(pred, target, trimap, error, match):
    for fn in (matting_sad, matting_mse, matting_grad):
        with pytest.raises(error, match=match):
            fn(pred, target, trimap)


# --------------------------------------------------------------------------------------
# Gradient error
# --------------------------------------------------------------------------------------


def reference_kernel(sigma: float) -> list[list[float]]:
    """gaussgradient.m: hx(i, j) = gauss(i) * dgauss(j), then divided by its L2 norm."""
    eps = 1e-2
    half = math.ceil(sigma * math.sqrt(-2 * math.log(math.sqrt(2 * math.pi) * sigma * eps)))

    def gauss(u):
        return math.exp(-(u**2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))

    def dgauss(u):
        return -u * gauss(u) / sigma**2

    size = 2 * half + 1
    hx = [[gauss(i - half) * dgauss(j - half) for j in range(size)] for i in range(size)]
    norm = math.sqrt(sum(v * v for row in hx for v in row))
    return [[v / norm for v in row] for row in hx]


def reference_conv_replicate(image: list[list[float]], kernel: list[list[float]]):
    """imfilter(image, kernel, 'replicate', 'conv'): out(p) = sum_k kernel(k) image(p - k)."""
    h, w, half = len(image), len(image[0]), len(kernel) // 2
    out = [[0.0] * w for _ in range(h)]
    for y in range(h):
        for x in range(w):
            acc = 0.0
            for i, row in enumerate(kernel):
                for j, k in enumerate(row):
                    yy = min(max(y - (i - half), 0), h - 1)
                    xx = min(max(x - (j - half), 0), w - 1)
                    acc += k * image[yy][xx]
            out[y][x] = acc
    return out


def reference_grad_error(pred, target, trimap, sigma: float = 1.4) -> float:
    hx = reference_kernel(sigma)
    hy = [list(col) for col in zip(*hx, strict=True)]
    amp = []
    for alpha in (pred.tolist(), target.tolist()):
        gx, gy = reference_conv_replicate(alpha, hx), reference_conv_replicate(alpha, hy)
        amp.append(
            [
                [math.hypot(a, b) for a, b in zip(ra, rb, strict=True)]
                for ra, rb in zip(gx, gy, strict=True)
            ]
        )
    total = 0.0
    for y, row in enumerate(trimap.tolist()):
        for x, code in enumerate(row):
            if code == 128:
                total += (amp[0][y][x] - amp[1][y][x]) ** 2
    return total / 1000


def test_kernel_size_hand_worked():
    # sigma = 1.4: sqrt(2 pi) * 1.4 * 0.01 = 0.035093; -2 ln(.) = 6.6993; sqrt = 2.5883;
    # * 1.4 = 3.624 -> half size 4, a 9 x 9 kernel. sigma = 2: 2 * sqrt(5.9866) = 4.89 -> 5.
    assert len(reference_kernel(1.4)) == 9 and len(reference_kernel(2.0)) == 11
    gx, _ = gaussian_gradient(torch.zeros(20, 20).index_fill_(1, torch.tensor([10]), 1.0))
    assert (gx[10].abs() > 0).nonzero().flatten().tolist() == [6, 7, 8, 9, 11, 12, 13, 14]


@pytest.mark.parametrize(
    ("seed", "shape", "sigma"), [(0, (10, 13), 1.4), (1, (9, 8), 2.0), (2, (3, 3), 1.4)]
)
def test_gaussian_gradient_matches_explicit_convolution(seed, shape, sigma):
    image = torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    hx = reference_kernel(sigma)
    hy = [list(col) for col in zip(*hx, strict=True)]
    gx, gy = gaussian_gradient(image, sigma=sigma)
    torch.testing.assert_close(
        gx,
        torch.tensor(reference_conv_replicate(image.tolist(), hx), dtype=torch.float64),
        rtol=0,
        atol=1e-12,
    )
    torch.testing.assert_close(
        gy,
        torch.tensor(reference_conv_replicate(image.tolist(), hy), dtype=torch.float64),
        rtol=0,
        atol=1e-12,
    )


@pytest.mark.parametrize(("seed", "shape"), [(0, (12, 14)), (1, (7, 16))])
def test_gradient_error_matches_the_dim_definition(seed, shape):
    pred, target, trimap = random_matting_case(seed, shape)
    expected = reference_grad_error(pred, target, trimap)
    assert matting_grad(pred, target, trimap).item() == pytest.approx(
        expected, rel=1e-12, abs=1e-15
    )
    assert matting_grad(target, pred, trimap).item() == pytest.approx(
        expected, rel=1e-12, abs=1e-15
    )


def test_gradient_error_batch_equals_per_image():
    pred, target, trimap = random_matting_case(3, (2, 1, 10, 11))
    batch = matting_grad(pred, target, trimap)
    assert batch.shape == (2,)
    for b in range(2):
        expected = reference_grad_error(pred[b, 0], target[b, 0], trimap[b, 0])
        assert batch[b].item() == pytest.approx(expected, rel=1e-12)


def test_gradient_error_sees_sharpness():
    # Truth: a soft ramp from column 6 to 18. A hard step through its middle has gradient
    # amplitude concentrated in a few columns and a positive error; a softer ramp (columns
    # 9 to 15) is closer in shape and must score lower; the truth itself scores 0.
    x = torch.arange(24, dtype=torch.float64).repeat(24, 1)
    ramp = ((x - 6) / 12).clamp(0, 1)
    step = (x >= 12).double()
    softer = ((x - 9) / 6).clamp(0, 1)
    trimap = torch.full((24, 24), 128, dtype=torch.uint8)
    assert matting_grad(step, ramp, trimap) > matting_grad(softer, ramp, trimap) > 0


def test_gradient_sigma_checks():
    with pytest.raises(ValueError, match="sigma must be in"):
        gaussian_gradient(torch.rand(5, 5), sigma=0.0)
    with pytest.raises(ValueError, match="sigma must be in"):
        gaussian_gradient(torch.rand(5, 5), sigma=50.0)
    with pytest.raises(TypeError, match="sigma must be a real number"):
        gaussian_gradient(torch.rand(5, 5), sigma="1.4")
