"""The synthetic shapes dataset: determinism, labels, ignore region, baseline, balance."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from knowledge.tutorial import (
    CLASSES,
    IGNORE_INDEX,
    NUM_CLASSES,
    ShapesDataset,
    class_pixel_counts,
    colorize,
    majority_baseline,
    normalize,
    render_shapes,
)


@pytest.fixture(scope="module")
def val() -> ShapesDataset:
    return ShapesDataset("val")


@pytest.fixture(scope="module")
def train() -> ShapesDataset:
    return ShapesDataset("train")


def test_same_seed_gives_identical_tensors_and_another_seed_does_not():
    a_img, a_lab = render_shapes(range(40), seed=3)
    b_img, b_lab = render_shapes(range(40), seed=3)
    assert torch.equal(a_img, b_img) and torch.equal(a_lab, b_lab)
    c_img, c_lab = render_shapes(range(40), seed=4)
    assert not torch.equal(a_img, c_img) and not torch.equal(a_lab, c_lab)
    # no two images of a dataset are the same, and neither are images of two seeds
    pixels = {bytes(x.flatten().tolist()) for x in torch.cat([a_img, c_img])}
    assert len(pixels) == 80


def test_an_image_does_not_depend_on_the_batch_it_is_rendered_in():
    # 300 images span two chunks of 256; each single render must match its row.
    images, labels = render_shapes(range(300))
    for i in (0, 7, 255, 256, 299):
        one_img, one_lab = render_shapes([i])
        assert torch.equal(one_img[0], images[i]), i
        assert torch.equal(one_lab[0], labels[i]), i


def test_datasets_are_independent_copies_with_disjoint_splits(train, val):
    assert len(train) == 1600 and len(val) == 400
    assert train.indices == range(0, 1600) and val.indices == range(1600, 2000)
    again = ShapesDataset("val")
    assert torch.equal(again.images, val.images)
    again.labels.zero_()  # mutating one dataset must not touch the cache or other datasets
    assert not torch.equal(again.labels, val.labels)
    assert torch.equal(ShapesDataset("val").labels, val.labels)


def test_items_are_normalised_float_images_and_int64_labels(val):
    image, label = val[3]
    assert image.shape == (3, 64, 64) and image.dtype == torch.float32
    assert label.shape == (64, 64) and label.dtype == torch.int64
    assert -1.0 <= image.min() and image.max() <= 1.0
    # normalize is (x / 255 - 0.5) / 0.5, written out by hand for a few values
    raw = val.images[3]
    assert torch.allclose(image.double(), (raw.double() / 255 - 0.5) / 0.5, atol=1e-6, rtol=0)
    assert torch.equal(label, val.labels[3].long())


def test_label_values_are_classes_or_ignore(val, train):
    for data in (train, val):
        assert data.images.dtype == torch.uint8 and data.labels.dtype == torch.uint8
        values = set(data.labels.unique().tolist())
        assert values == set(range(NUM_CLASSES)) | {IGNORE_INDEX}


def test_ignore_region_is_one_filled_rectangle_in_about_half_the_images(val):
    with_patch = 0
    for label in val.labels:
        ys, xs = torch.nonzero(label == IGNORE_INDEX, as_tuple=True)
        if ys.numel() == 0:
            continue
        with_patch += 1
        h = int(ys.max() - ys.min()) + 1
        w = int(xs.max() - xs.min()) + 1
        assert 8 <= h <= 16 and 8 <= w <= 16
        assert ys.numel() == h * w  # the bounding box is completely ignored: a rectangle
    # 400 fair coin flips: 200 +- 3 standard deviations (sqrt(100) = 10)
    assert 170 <= with_patch <= 230


def test_majority_baseline_stays_below_0_2_by_plain_counting(val):
    # Independent oracle: count pixels in plain Python, then score "predict the most frequent
    # class everywhere" with IoU = TP / (TP + FP + FN) per class.
    counts = Counter(val.labels.flatten().tolist())
    ignored = counts.pop(IGNORE_INDEX)
    assert ignored > 0
    total = sum(counts.values())
    majority = max(counts, key=counts.get)
    ious = []
    for c in range(NUM_CLASSES):
        tp = counts[c] if c == majority else 0
        fp = (total - counts[c]) if c == majority else 0
        fn = 0 if c == majority else counts[c]
        ious.append(tp / (tp + fp + fn))
    miou = sum(ious) / NUM_CLASSES
    assert CLASSES[majority] == "background"
    assert miou < 0.2
    assert miou == pytest.approx(counts[majority] / total / NUM_CLASSES, rel=1e-12)
    got = majority_baseline(val.labels)
    assert got["class"] == majority
    assert got["mIoU"] == pytest.approx(miou, rel=1e-12)
    assert got["aAcc"] == pytest.approx(counts[majority] / total, rel=1e-12)


def test_class_balance(train, val):
    counts = class_pixel_counts(train.labels)
    assert counts.tolist() == [int((train.labels == c).sum()) for c in range(NUM_CLASSES)]
    share = counts.double() / counts.sum()
    val_counts = class_pixel_counts(val.labels)
    val_share = val_counts.double() / val_counts.sum()
    assert (share - val_share).abs().max() < 0.015  # the two splits look alike
    assert 0.6 < share[0] < 0.85  # background dominates, as in real scenes
    foreground = share[1:]
    assert (foreground > 0.04).all() and (foreground < 0.09).all()
    # every shape has the area of a disc of radius r: no class is twice another
    assert foreground.max() / foreground.min() < 1.3


def test_every_image_has_two_to_four_objects_worth_of_foreground(val):
    fg = ((val.labels != 0) & (val.labels != IGNORE_INDEX)).flatten(1).sum(1)
    assert (fg > 0).all()
    # at most four shapes of area pi * 15^2 each
    assert fg.max() <= 4 * 3.1416 * 15**2


def test_class_pixel_counts_rejects_labels_outside_the_classes():
    with pytest.raises(ValueError, match=r"outside \[0, 5\).*\[7\]"):
        class_pixel_counts(torch.tensor([0, 7, 255]))


def test_colorize_and_normalize():
    rgb = colorize(torch.tensor([[0, 1, 255]]))
    assert rgb.shape == (1, 3, 3) and rgb.dtype == torch.uint8
    assert rgb[0, 2].tolist() == [255, 255, 255]
    assert rgb[0, 0].tolist() != rgb[0, 1].tolist()
    with pytest.raises(TypeError, match="uint8"):
        normalize(torch.zeros(3))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"split": "test"}, ValueError, "split must be 'train' or 'val', got 'test'"),
        ({"seed": -1}, ValueError, "seed must be >= 0, got -1"),
        ({"num_val": 2.5}, TypeError, "num_val must be an int"),
    ],
)
def test_dataset_arguments_are_checked(kwargs, error, match):
    with pytest.raises(error, match=match):
        ShapesDataset(**kwargs)


def test_render_checks_indices():
    with pytest.raises(ValueError, match="every index must be >= 0, got -1"):
        render_shapes([-1])
    images, labels = render_shapes([])
    assert images.shape == (0, 3, 64, 64) and labels.shape == (0, 64, 64)
