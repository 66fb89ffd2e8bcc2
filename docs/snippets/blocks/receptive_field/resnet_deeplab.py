from torch import nn

from knowledge.blocks import theoretical_receptive_field

stem = [
    nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
    nn.BatchNorm2d(64),
    nn.ReLU(inplace=True),
    nn.MaxPool2d(3, stride=2, padding=1),
]
print("ResNet stem:")
print(theoretical_receptive_field(nn.Sequential(*stem), input_size=512))


def resnet50_longest_path(dilated_stages=0):
    """The stem and the 1x1, 3x3, 1x1 convs of all 16 bottlenecks (the residual branches).

    Channels do not matter for the receptive field, so every conv has one. The last
    `dilated_stages` stages trade their stride 2 for dilation, as DeepLab does
    (torchvision's replace_stride_with_dilation).
    """
    layers, dilation = [nn.Conv2d(1, 1, 7, 2, 3), nn.MaxPool2d(3, 2, 1)], 1
    for stage, (blocks, stride) in enumerate([(3, 1), (4, 2), (6, 2), (3, 2)]):
        first_dilation = dilation
        if stage >= 4 - dilated_stages:
            dilation, stride = dilation * stride, 1
        for b in range(blocks):
            d = first_dilation if b == 0 else dilation
            s = stride if b == 0 else 1
            layers += [nn.Conv2d(1, 1, 1), nn.Conv2d(1, 1, 3, s, d, d), nn.Conv2d(1, 1, 1)]
    return nn.Sequential(*layers)


def conv3(dilation=1):
    return nn.Sequential(nn.Conv2d(8, 8, 3, padding=dilation, dilation=dilation), nn.ReLU())


stacks = {
    "ResNet-50": resnet50_longest_path(),
    "ResNet-50, output stride 8": resnet50_longest_path(dilated_stages=2),
    "4 convs 3x3": nn.Sequential(*[conv3() for _ in range(4)]),
    "4 convs, dilation 1,2,4,8": nn.Sequential(*[conv3(d) for d in (1, 2, 4, 8)]),
    "4 convs, 2 pools": nn.Sequential(
        conv3(), nn.MaxPool2d(2), conv3(), nn.MaxPool2d(2), conv3(), conv3()
    ),
}
print(f"\n{'on a 512x512 input':28} {'r':>4} {'jump':>5} {'output':>7}")
for name, stack in stacks.items():
    rf = theoretical_receptive_field(stack, input_size=512)
    print(f"{name:28} {rf.size[0]:4} {rf.jump[0]:5} {rf.rows[-1].output_size[0]:7}")
