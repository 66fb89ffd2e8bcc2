r"""A segmentor built from a config dict: mmseg's ``EncoderDecoder``, whole and slide inference.

A config such as ``dict(type="EncoderDecoder", backbone=dict(type="SwinTransformer", ...),
decode_head=dict(type="UPerHead", ...), auxiliary_head=dict(type="FCNHead", ...))`` becomes
a model through [`MODELS.build`][knowledge.registry.Registry.build], which builds the nested
dicts first. The model runs backbone → (neck) → decode head and resizes the logits
bilinearly to the image size.

At test time an image is processed whole, or in overlapping crops (mmseg's ``"slide"``
mode). With crop $c$ and stride $s$ along a side of length $L$, there are

$$
n = \left\lfloor \frac{\max(L - c + s - 1,\ 0)}{s} \right\rfloor + 1
$$

windows, starting at $0, s, 2s, \dots$; a window that would cross the border is shifted back
to end at it (and is the whole side when $L < c$). The logits of all windows are summed
into place and divided by the per-pixel count of windows.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from knowledge.registry import MODELS

__all__ = [
    "EncoderDecoder",
    "slide_windows",
    "swin_t_upernet_config",
    "swin_t_upernet_parameter_counts",
]


def _pair(name: str, value: int | Sequence[int]) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, int) for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints (h, w), got {value!r}")
    if min(pair) < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return pair  # type: ignore[return-value]


def slide_windows(
    height: int, width: int, crop_size: int | Sequence[int], stride: int | Sequence[int]
) -> list[tuple[int, int, int, int]]:
    r"""The windows of mmseg's sliding-window inference, row by row.

    Args:
        height: image height H.
        width: image width W.
        crop_size: window size $c$, an int or (h, w).
        stride: step $s$ between window starts, an int or (h, w).

    Returns:
        ``(y1, y2, x1, x2)`` for each window: rows ``y1:y2`` and columns ``x1:x2``.

    Raises:
        TypeError: if a size is not an int or a pair of ints.
        ValueError: if a size is < 1.

    Examples:
        >>> slide_windows(512, 683, 512, 341)  # ADE20K: one row, the last window shifted
        [(0, 512, 0, 512), (0, 512, 171, 683)]
        >>> slide_windows(300, 200, 512, 341)  # smaller than a crop: one window, no padding
        [(0, 300, 0, 200)]
    """
    (h_img, w_img) = _pair("image size", (height, width))
    h_crop, w_crop = _pair("crop_size", crop_size)
    h_stride, w_stride = _pair("stride", stride)
    h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
    windows = []
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y2 = min(h_idx * h_stride + h_crop, h_img)
            x2 = min(w_idx * w_stride + w_crop, w_img)
            windows.append((max(y2 - h_crop, 0), y2, max(x2 - w_crop, 0), x2))
    return windows


def _as_module(name: str, value: Any) -> nn.Module:
    """A built module, or a config dict built now through ``MODELS``."""
    if isinstance(value, Mapping):
        value = MODELS.build(value)
    if not isinstance(value, nn.Module):
        raise TypeError(f"{name} must be an nn.Module or a config dict, got {type(value).__name__}")
    return value


def _check_test_cfg(test_cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    cfg = dict(test_cfg or {"mode": "whole"})
    mode = cfg.get("mode", "whole")
    if mode == "whole":
        extra = set(cfg) - {"mode"}
    elif mode == "slide":
        extra = set(cfg) - {"mode", "crop_size", "stride"}
        if "crop_size" not in cfg or "stride" not in cfg:
            raise ValueError(f"test_cfg mode 'slide' needs crop_size and stride, got {cfg!r}")
        cfg["crop_size"] = _pair("test_cfg crop_size", cfg["crop_size"])
        cfg["stride"] = _pair("test_cfg stride", cfg["stride"])
    else:
        raise ValueError(f"test_cfg mode must be 'whole' or 'slide', got {mode!r}")
    if extra:
        raise ValueError(f"test_cfg for mode {mode!r} has unknown keys {sorted(extra)}")
    cfg["mode"] = mode
    return cfg


@MODELS.register()
class EncoderDecoder(nn.Module):
    r"""Backbone, optional neck, decode head and optional auxiliary heads (mmseg's segmentor).

    Each part is a module, or a config dict that is built through
    [`MODELS`][knowledge.registry.MODELS] (``MODELS.build`` of the whole config builds the
    parts first). The decode head takes the list of maps and returns logits at its own
    resolution; the segmentor resizes them to the image (bilinear, with the head's
    ``align_corners``, False by default). Auxiliary heads only add training losses
    ([`forward_train`][knowledge.models.EncoderDecoder.forward_train]); inference ignores
    them.

    Args:
        backbone: maps images to a list of feature maps.
        decode_head: maps that list to logits; its ``num_classes`` and ``align_corners``
            attributes are used when present.
        neck: optional module between backbone and heads (e.g.
            [`FPN`][knowledge.models.FPN]).
        auxiliary_head: None, a head, or a list of heads.
        test_cfg: ``dict(mode="whole")`` (default) or ``dict(mode="slide",
            crop_size=(h, w), stride=(h, w))``, used by
            [`inference`][knowledge.models.EncoderDecoder.inference].

    Raises:
        TypeError: if a part is neither a module nor a config dict.
        ValueError: if ``test_cfg`` is malformed.

    Examples:
        >>> import torch
        >>> from knowledge.registry import MODELS
        >>> cfg = dict(
        ...     type="EncoderDecoder",
        ...     backbone=dict(type="VGG16Backbone", widths=(4, 4, 8, 8, 8), fc_channels=16),
        ...     decode_head=dict(type="FCNHead", in_channels=8, channels=8, num_classes=3,
        ...                      in_index=0, num_convs=1),
        ...     test_cfg=dict(mode="slide", crop_size=32, stride=24),
        ... )
        >>> model = MODELS.build(cfg).eval()
        >>> model.inference(torch.randn(1, 3, 50, 41)).shape  # 2 x 2 windows
        torch.Size([1, 3, 50, 41])
    """

    def __init__(
        self,
        backbone: nn.Module | Mapping[str, Any],
        decode_head: nn.Module | Mapping[str, Any],
        *,
        neck: nn.Module | Mapping[str, Any] | None = None,
        auxiliary_head: nn.Module | Mapping[str, Any] | Sequence[Any] | None = None,
        test_cfg: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.backbone = _as_module("backbone", backbone)
        self.neck = None if neck is None else _as_module("neck", neck)
        self.decode_head = _as_module("decode_head", decode_head)
        if auxiliary_head is None or isinstance(auxiliary_head, nn.ModuleList):
            self.auxiliary_head = auxiliary_head
        elif isinstance(auxiliary_head, (list, tuple)):
            self.auxiliary_head = nn.ModuleList(
                _as_module(f"auxiliary_head[{i}]", h) for i, h in enumerate(auxiliary_head)
            )
        else:
            self.auxiliary_head = _as_module("auxiliary_head", auxiliary_head)
        self.align_corners = bool(getattr(self.decode_head, "align_corners", False))
        self.test_cfg = _check_test_cfg(test_cfg)

    def extract_feat(self, img: Tensor) -> list[Tensor]:
        """Runs the backbone and the neck.

        Args:
            img: images of shape (B, C, H, W).

        Returns:
            The feature maps, finest first.
        """
        if not isinstance(img, Tensor) or img.dim() != 4:
            got = tuple(img.shape) if isinstance(img, Tensor) else type(img).__name__
            raise ValueError(f"img must be a batch of images (B, C, H, W), got {got}")
        feats = self.backbone(img)
        return feats if self.neck is None else self.neck(feats)

    def _resize(self, logits: Tensor, size: Sequence[int]) -> Tensor:
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=self.align_corners)

    def encode_decode(self, img: Tensor) -> Tensor:
        """Decode-head logits resized to the image size (mmseg's ``encode_decode``).

        Args:
            img: images of shape (B, C, H, W).

        Returns:
            Logits of shape (B, K, H, W).
        """
        return self._resize(self.decode_head(self.extract_feat(img)), img.shape[-2:])

    def forward(self, img: Tensor) -> Tensor:
        """Same as [`encode_decode`][knowledge.models.EncoderDecoder.encode_decode]."""
        return self.encode_decode(img)

    def forward_train(self, img: Tensor) -> dict[str, Tensor]:
        """Logits of the decode head and of every auxiliary head, for the losses.

        Args:
            img: images of shape (B, C, H, W).

        Returns:
            ``{"decode": ..., "aux": ...}`` (``"aux_0"``, ``"aux_1"``, ... for a list of
            auxiliary heads, as mmseg names their losses), each (B, K, H, W).
        """
        feats = self.extract_feat(img)
        size = img.shape[-2:]
        out = {"decode": self._resize(self.decode_head(feats), size)}
        if isinstance(self.auxiliary_head, nn.ModuleList):
            for i, head in enumerate(self.auxiliary_head):
                out[f"aux_{i}"] = self._resize(head(feats), size)
        elif self.auxiliary_head is not None:
            out["aux"] = self._resize(self.auxiliary_head(feats), size)
        return out

    def loss(
        self,
        img: Tensor,
        seg_label: Tensor,
        *,
        ignore_index: int = 255,
        avg_non_ignore: bool = True,
    ) -> dict[str, Tensor]:
        r"""Weighted cross-entropy of every head, named as mmseg logs them.

        Each head's logits are resized to the label size (as in
        [`forward_train`][knowledge.models.EncoderDecoder.forward_train]) and scored with
        pixel-wise cross-entropy, times the head's ``loss_weight`` (1.0 when the head has
        none; 0.4 for the auxiliary ``FCNHead`` of mmseg's configs). The training loss is
        the sum of the returned values:

        $$
        \mathcal{L} = \mathcal{L}_\text{decode} + \sum_a w_a \, \mathcal{L}_a
        $$

        Args:
            img: images of shape (B, C, H, W).
            seg_label: label maps of shape (B, H, W), integers in [0, K) or
                ``ignore_index``.
            ignore_index: label value that adds no loss.
            avg_non_ignore: average over the pixels that are not ignored (PyTorch's
                ``F.cross_entropy``); False divides by all pixels, the default of mmseg's
                ``CrossEntropyLoss`` (``avg_non_ignore=False``), which shrinks the loss of
                images with large ignored regions.

        Returns:
            ``{"decode.loss_ce": ..., "aux.loss_ce": ...}`` (``"aux_0.loss_ce"``, ... for a
            list of auxiliary heads), scalar tensors with gradients.

        Raises:
            ValueError: if ``seg_label`` is not (B, H, W) matching ``img``, or not an
                integer tensor.

        Examples:
            >>> import torch
            >>> from knowledge.registry import MODELS
            >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
            <torch._C.Generator object at ...>
            >>> model = MODELS.build(dict(
            ...     type="EncoderDecoder",
            ...     backbone=dict(type="VGG16Backbone", widths=(4, 4, 8, 8, 8), fc_channels=16),
            ...     decode_head=dict(type="FCNHead", in_channels=8, channels=8, num_classes=3,
            ...                      in_index=0),
            ...     auxiliary_head=dict(type="FCNHead", in_channels=8, channels=8,
            ...                         num_classes=3, in_index=1, loss_weight=0.4)))
            >>> label = torch.randint(0, 3, (2, 32, 32))
            >>> label[:, :4] = 255  # an ignored band
            >>> losses = model.loss(torch.randn(2, 3, 32, 32), label)
            >>> sorted(losses)
            ['aux.loss_ce', 'decode.loss_ce']
            >>> sum(losses.values()).backward()  # one backward through both heads
        """
        if not isinstance(seg_label, Tensor) or seg_label.dtype.is_floating_point:
            got = seg_label.dtype if isinstance(seg_label, Tensor) else type(seg_label).__name__
            raise ValueError(f"seg_label must be an integer tensor of labels, got {got}")
        if seg_label.dim() != 3 or (seg_label.shape[0], *seg_label.shape[1:]) != (
            img.shape[0],
            *img.shape[-2:],
        ):
            raise ValueError(
                f"seg_label must have shape (B, H, W) = {(img.shape[0], *img.shape[-2:])} to "
                f"match img {tuple(img.shape)}, got {tuple(seg_label.shape)}"
            )
        target = seg_label.long()
        valid = int((target != ignore_index).sum())
        heads = {"decode": self.decode_head}
        if isinstance(self.auxiliary_head, nn.ModuleList):
            heads.update({f"aux_{i}": h for i, h in enumerate(self.auxiliary_head)})
        elif self.auxiliary_head is not None:
            heads["aux"] = self.auxiliary_head
        losses = {}
        for name, logits in self.forward_train(img).items():
            ce = F.cross_entropy(logits, target, ignore_index=ignore_index, reduction="sum")
            denom = valid if avg_non_ignore else target.numel()
            weight = float(getattr(heads[name], "loss_weight", 1.0))
            losses[f"{name}.loss_ce"] = weight * ce / max(denom, 1)
        return losses

    def whole_inference(self, img: Tensor) -> Tensor:
        """The whole image at once.

        Args:
            img: images of shape (B, C, H, W).

        Returns:
            Logits of shape (B, K, H, W).
        """
        return self.encode_decode(img)

    def slide_inference(
        self, img: Tensor, *, crop_size: int | Sequence[int], stride: int | Sequence[int]
    ) -> Tensor:
        """Overlapping crops, each decoded alone, averaged where they overlap.

        The windows are those of [`slide_windows`][knowledge.models.slide_windows]; each
        crop's logits are resized to the crop, summed into place, and the sum is divided by
        the number of windows that cover each pixel, as mmseg's ``slide_inference`` does.

        Args:
            img: images of shape (B, C, H, W).
            crop_size: window size, an int or (h, w).
            stride: step between windows, an int or (h, w); less than ``crop_size`` for
                overlap.

        Returns:
            Logits of shape (B, K, H, W).
        """
        if not isinstance(img, Tensor) or img.dim() != 4:
            raise ValueError(f"img must be a batch of images (B, C, H, W), got {img!r}")
        B, _, H, W = img.shape
        preds: Tensor | None = None
        count = img.new_zeros((B, 1, H, W))
        for y1, y2, x1, x2 in slide_windows(H, W, crop_size, stride):
            crop_logits = self.encode_decode(img[:, :, y1:y2, x1:x2])  # (B, K, y2-y1, x2-x1)
            if preds is None:
                preds = img.new_zeros((B, crop_logits.shape[1], H, W))
            preds[:, :, y1:y2, x1:x2] += crop_logits
            count[:, :, y1:y2, x1:x2] += 1
        assert preds is not None  # slide_windows returns at least one window
        return preds / count  # every pixel is covered at least once

    def inference(self, img: Tensor) -> Tensor:
        """Whole or slide inference, as ``test_cfg`` says.

        Args:
            img: images of shape (B, C, H, W).

        Returns:
            Logits of shape (B, K, H, W); ``argmax(1)`` gives the label map.
        """
        if self.test_cfg["mode"] == "slide":
            return self.slide_inference(
                img, crop_size=self.test_cfg["crop_size"], stride=self.test_cfg["stride"]
            )
        return self.whole_inference(img)


def swin_t_upernet_config(num_classes: int = 150, *, auxiliary_head: bool = True) -> dict[str, Any]:
    """The config of mmseg's UPerNet with a Swin-T backbone on ADE20K, in this site's names.

    It mirrors ``upernet_swin_tiny_patch4_window7_512x512_160k_ade20k``: Swin-T with
    stochastic depth 0.3, ``UPerHead`` with 512 channels, and an ``FCNHead`` on the stride-16
    map (384 channels) as auxiliary head with loss weight 0.4; SyncBN in both heads;
    whole-image testing.

    Args:
        num_classes: number of classes (150 for ADE20K).
        auxiliary_head: include the auxiliary ``FCNHead``.

    Returns:
        A new config dict for ``MODELS.build``.

    Examples:
        >>> cfg = swin_t_upernet_config()
        >>> cfg["decode_head"]["in_channels"], cfg["auxiliary_head"]["in_index"]
        ((96, 192, 384, 768), 2)
    """
    norm = dict(type="SyncBN")
    cfg: dict[str, Any] = dict(
        type="EncoderDecoder",
        backbone=dict(
            type="SwinTransformer",
            embed_dim=96,
            depths=(2, 2, 6, 2),
            num_heads=(3, 6, 12, 24),
            window_size=7,
            mlp_ratio=4.0,
            drop_path_rate=0.3,
            out_indices=(0, 1, 2, 3),
        ),
        decode_head=dict(
            type="UPerHead",
            in_channels=(96, 192, 384, 768),
            in_index=(0, 1, 2, 3),
            channels=512,
            pool_scales=(1, 2, 3, 6),
            dropout_ratio=0.1,
            num_classes=num_classes,
            norm_layer=norm,
            align_corners=False,
        ),
    )
    if auxiliary_head:
        cfg["auxiliary_head"] = dict(
            type="FCNHead",
            in_channels=384,
            in_index=2,
            channels=256,
            num_convs=1,
            concat_input=False,
            dropout_ratio=0.1,
            num_classes=num_classes,
            norm_layer=dict(norm),
            align_corners=False,
            loss_weight=0.4,
        )
    cfg["test_cfg"] = dict(mode="whole")
    return cfg


@functools.lru_cache(maxsize=4)
def _parameter_counts(num_classes: int) -> tuple[tuple[str, int], ...]:
    with torch.device("meta"):  # parameters with shapes but no data: no memory, no init
        model = MODELS.build(swin_t_upernet_config(num_classes))
    parts = {
        name: sum(p.numel() for p in getattr(model, name).parameters())
        for name in ("backbone", "decode_head", "auxiliary_head")
    }
    total = sum(p.numel() for p in model.parameters())
    return (
        *parts.items(),
        ("total", total),
        ("total_without_aux", total - parts["auxiliary_head"]),
    )


def swin_t_upernet_parameter_counts(num_classes: int = 150) -> dict[str, int]:
    """Parameter counts of Swin-T + UPerNet + FCN auxiliary head, built once and cached.

    The model is built on the ``meta`` device: its parameters have shapes but no data, so
    nothing is allocated or initialised (on a CPU, initialising the 60M parameters takes
    seconds, mostly the backbone's truncated normals). The counts are cached per
    ``num_classes``.

    Args:
        num_classes: number of classes.

    Returns:
        Counts under ``backbone``, ``decode_head``, ``auxiliary_head``, ``total`` and
        ``total_without_aux`` (a new dict on every call).

    Examples:
        >>> counts = swin_t_upernet_parameter_counts(150)
        >>> counts["total"], counts["total_without_aux"]  # mmseg: 59,941,862 and 59,018,064
        (59941862, 59018064)
    """
    return dict(_parameter_counts(num_classes))
