import copy
import pprint


def merge(base: dict, override: dict) -> dict:
    """mmengine's rule for merging a child config into its _base_ (simplified).

    Dicts merge key by key, recursively; any other value (numbers, strings, lists)
    replaces the base value whole; _delete_=True drops the base dict at that key.
    (mmengine also resolves {{_base_.x}} references and numbered list keys; not shown.)
    """
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict):
            value = dict(value)
            delete = value.pop("_delete_", False)
            if key in out and not delete:
                if not isinstance(out[key], dict):  # mmengine raises here too
                    raise TypeError(f"cannot merge a dict into {key}={out[key]!r}")
                out[key] = merge(out[key], value)
                continue
        out[key] = copy.deepcopy(value)
    return out


# What _base_ = ["../_base_/models/upernet_swin.py", ...] contributes (shortened)
base = dict(
    model=dict(
        type="EncoderDecoder",
        backbone=dict(type="SwinTransformer", embed_dims=96, depths=[2, 2, 6, 2]),
        decode_head=dict(type="UPerHead", num_classes=19, norm_cfg=dict(type="SyncBN")),
    ),
    optimizer=dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=0.0005),
)
# The child file: only what differs
child = dict(
    model=dict(
        backbone=dict(depths=[2, 2, 18, 2]),  # a list: replaced, not merged
        decode_head=dict(num_classes=150),  # one key changed, the rest inherited
    ),
    optimizer=dict(_delete_=True, type="AdamW", lr=6e-5, weight_decay=0.01),  # no momentum
)
print(pprint.pformat(merge(base, child), sort_dicts=False, width=88))
