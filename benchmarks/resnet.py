"""ResNet-18/50 in plain torch (torchvision does not import beside this project's CPU torch build).

Random weights: the benchmark measures time, not accuracy.
"""

from __future__ import annotations

from torch import nn


class _Basic(nn.Module):
    expansion = 1

    def __init__(self, inputs: int, width: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(inputs, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width),
        )
        self.skip = _projection(inputs, width, stride)

    def forward(self, x):
        return nn.functional.relu(self.body(x) + self.skip(x))


class _Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inputs: int, width: int, stride: int) -> None:
        super().__init__()
        out = width * 4
        self.body = nn.Sequential(
            nn.Conv2d(inputs, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, out, 1, bias=False), nn.BatchNorm2d(out),
        )
        self.skip = _projection(inputs, out, stride)

    def forward(self, x):
        return nn.functional.relu(self.body(x) + self.skip(x))


def _projection(inputs: int, outputs: int, stride: int) -> nn.Module:
    if stride == 1 and inputs == outputs:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs))


def resnet(depth: int, num_classes: int = 1000) -> nn.Module:
    """ResNet-18 (``depth=18``) or ResNet-50 (``depth=50``) as in He et al. 2016."""
    block, counts = {18: (_Basic, (2, 2, 2, 2)), 50: (_Bottleneck, (3, 4, 6, 3))}[depth]
    layers: list[nn.Module] = [
        nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1),
    ]
    inputs = 64
    for stage, count in enumerate(counts):
        width = 64 * 2**stage
        for i in range(count):
            layers.append(block(inputs, width, 2 if stage > 0 and i == 0 else 1))
            inputs = width * block.expansion
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(inputs, num_classes)]
    return nn.Sequential(*layers).eval()
