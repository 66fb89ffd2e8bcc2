from knowledge.registry import MODELS

bad_configs = [
    # two typos: pool_scale (unknown) and a missing num_classes
    dict(type="PSPHead", in_channels=2048, channels=512, pool_scale=(1, 2, 3, 6)),
    # a misspelled type
    dict(type="PSPhead", in_channels=2048, channels=512, num_classes=19),
    # a string is only ever a name: nothing is evaluated or imported
    dict(type="__import__('os').system('echo pwned')"),
    # nested configs report where the error is
    dict(
        type="PSPHead",
        in_channels=2048,
        channels=512,
        num_classes=19,
        norm_layer=dict(type="BN", groups=2),
    ),
]
for cfg in bad_configs:
    try:
        MODELS.build(cfg)
    except (TypeError, KeyError) as err:
        print(f"{type(err).__name__}: {err}\n")
