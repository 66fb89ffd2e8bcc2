import re

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from knowledge.plotting import svg


def _figure(title: str):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [2, 0, 1], label="a")
    ax.set_title(title)
    ax.legend()
    return fig


def test_same_figure_gives_identical_svg_without_date_or_xml_header():
    a = svg(_figure("Loss"), alt="Loss curve")
    b = svg(_figure("Loss"), alt="Loss curve")
    assert a == b
    assert a.startswith("<svg") and a.rstrip().endswith("</svg>")
    assert "<?xml" not in a and "DOCTYPE" not in a
    assert "<dc:date>" not in a


def test_two_plots_on_one_page_have_no_shared_ids():
    a = svg(_figure("Same"), alt="First plot")
    b = svg(_figure("Same"), alt="Second plot")
    ids_a = re.findall(r'\bid="([^"]+)"', a)
    ids_b = re.findall(r'\bid="([^"]+)"', b)
    assert ids_a and ids_b
    assert len(ids_a) == len(set(ids_a))
    assert not set(ids_a) & set(ids_b)
    # every internal reference points at an id of the same figure
    for text, ids in ((a, set(ids_a)), (b, set(ids_b))):
        refs = re.findall(r'(?:href="#|url\(#)([^")]+)', text)
        assert refs and set(refs) <= ids


def test_text_alternative_is_present_and_escaped():
    out = svg(_figure("x"), alt='Loss < 1 & "fast"')
    assert "<title>Loss &lt; 1 &amp; &quot;fast&quot;</title>" in out
    assert 'role="img"' in out and "aria-label=" in out


def test_empty_alt_is_rejected():
    with pytest.raises(ValueError, match="alt"):
        svg(_figure("x"), alt="  ")


def test_identical_images_in_one_figure_get_distinct_ids():
    import torch

    fig, axes = plt.subplots(1, 2, figsize=(3, 1.5))
    for ax in axes:  # the same pixels twice: matplotlib hashes them to the same image id
        ax.imshow(torch.arange(16.0).reshape(4, 4).numpy())
    out = svg(fig, alt="Two identical images")
    ids = re.findall(r'\bid="([^"]+)"', out)
    assert len([i for i in ids if i.startswith("two-identical-images-image")]) == 2
    assert len(ids) == len(set(ids))
