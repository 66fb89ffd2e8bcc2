import torch
from torch import nn

torch.manual_seed(0)
C, D = 16, 10  # small stand-ins for VGG's 512 channels and the 4096 outputs of fc6
fc = nn.Linear(C * 7 * 7, D)  # a fully connected layer on a flattened 7x7 map
conv = nn.Conv2d(C, D, kernel_size=7)  # the same layer as a 7x7 convolution
with torch.no_grad():
    conv.weight.copy_(fc.weight.view(D, C, 7, 7))  # the same numbers, reshaped
    conv.bias.copy_(fc.bias)

    x = torch.randn(1, C, 7, 7)
    same = torch.allclose(fc(x.flatten(1)), conv(x).flatten(1), atol=1e-6)
    print(f"7x7 map:   fc -> {tuple(fc(x.flatten(1)).shape)}, conv -> {tuple(conv(x).shape)}")
    print("fc(x) == conv(x):", same)

    big = torch.randn(1, C, 12, 16)  # a larger image gives a larger map
    try:
        fc(big.flatten(1))
    except RuntimeError as err:
        print("fc on 12x16:", str(err).splitlines()[0])
    out = conv(big)
    print(f"conv on 12x16 -> {tuple(out.shape)}: one classifier output per 7x7 window")
    crop = big[:, :, 2:9, 5:12]  # the window under output position (2, 5)
    same = torch.allclose(out[0, :, 2, 5], fc(crop.flatten(1))[0], atol=1e-6)
    print("output (2, 5) == fc(window at rows 2..8, cols 5..11):", same)
