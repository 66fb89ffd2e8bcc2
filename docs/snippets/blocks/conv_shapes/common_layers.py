from knowledge.blocks import conv_output_size

# (name, kernel_size, stride, padding, dilation, layer kind)
layers = [
    ("conv k3 s1 p1 (VGG, U-Net padded)", 3, 1, 1, 1, "conv"),
    ("conv k3 s1 p0 (U-Net 2015, valid)", 3, 1, 0, 1, "conv"),
    ("conv k1 s1 p0 (channel mixing)", 1, 1, 0, 1, "conv"),
    ("conv k3 s1 p2 d2 (dilated)", 3, 1, 2, 2, "conv"),
    ("maxpool k2 s2 p0 (VGG, U-Net)", 2, 2, 0, 1, "maxpool"),
    ("conv k3 s2 p1 (strided conv)", 3, 2, 1, 1, "conv"),
    ("conv k7 s2 p3 (ResNet stem)", 7, 2, 3, 1, "conv"),
    ("maxpool k3 s2 p1 (ResNet stem)", 3, 2, 1, 1, "maxpool"),
]
print(f"{'layer':36} {'224':>5} {'225':>5} {'7':>3}")
for name, k, s, p, d, kind in layers:
    outs = [conv_output_size(h, k, s, p, d, layer=kind) for h in (224, 225, 7)]
    print(f"{name:36} {outs[0]:5} {outs[1]:5} {outs[2]:3}")
