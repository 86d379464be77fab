"""The torch architectures of :mod:`xaihub.testing.zoo`: small, random weights, built in milliseconds. Imports torch."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from xaihub.ground_truth.vit import Block

CLASSES = 5
"""Every zoo model scores this many classes."""


def seeded(build: Callable[[], nn.Module], seed: int = 0) -> nn.Module:
    """``build()`` with torch's global generator seeded, and put back afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def cnn() -> nn.Module:
    """Convolutions, ``ReLU`` and ``MaxPool2d``, global average pooling and a linear head."""
    return _Head(nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 12, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(12, 16, 3, padding=1), nn.ReLU(),
    ), 16, nn.AdaptiveAvgPool2d(1))


def adaptive_max_pool() -> nn.Module:
    """Convolutions with an ``AdaptiveMaxPool2d`` head."""
    return _Head(nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
    ), 16, nn.AdaptiveMaxPool2d(1))


def resnet() -> nn.Module:
    """A ResNet-like network: ``BatchNorm2d``, residual additions (one with a 1×1 projection), one ``ReLU``
    module called several times per block."""
    return _Head(nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        _Residual(8, 8, stride=1), _Residual(8, 16, stride=2),
    ), 16, nn.AdaptiveAvgPool2d(1))


def mobilenet() -> nn.Module:
    """A MobileNet-like network: depthwise-separable blocks with ``ReLU6`` and ``Hardswish``, an inverted
    residual addition."""
    return _Head(nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.Hardswish(),
        _InvertedResidual(8), _Separable(8, 16),
    ), 16, nn.AdaptiveAvgPool2d(1))


def silu_gelu() -> nn.Module:
    """Convolutions with ``SiLU`` and ``GELU`` activations."""
    return _Head(nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.SiLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.GELU(),
    ), 16, nn.AdaptiveAvgPool2d(1))


def vit() -> nn.Module:
    """A small vision transformer on 32×32 inputs: 8×8 patches embedded by a convolution, a class token,
    learned position embeddings, two pre-norm blocks (``LayerNorm``, ``nn.MultiheadAttention``, a ``GELU``
    MLP), the class token's ``LayerNorm`` and a linear head."""
    return _VisionTransformer(size=32, patch=8, width=24, depth=2, heads=4)


def tuple_output() -> nn.Module:
    """A CNN returning ``(logits, features)``."""
    return _Outputs(cnn(), as_dict=False)


def dict_output() -> nn.Module:
    """A CNN returning ``{"logits": ..., "features": ...}``."""
    return _Outputs(cnn(), as_dict=True)


def channels_last() -> nn.Module:
    """The plain CNN with its weights in ``torch.channels_last`` memory format."""
    return cnn().to(memory_format=torch.channels_last)


def softmax_sequential() -> nn.Module:
    """An ``nn.Sequential`` ending in ``nn.Softmax`` (probabilities out; logits one layer before)."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, CLASSES), nn.Softmax(dim=1),
    )


def depthwise_max() -> nn.Module:
    """A convolution, ``ReLU6``, a depthwise convolution, ``Hardswish``, ``AdaptiveMaxPool2d`` and a linear head:
    no pooling before the head, so any input of one pixel or more."""
    return _Head(nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU6(), nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.Hardswish(),
    ), 8, nn.AdaptiveMaxPool2d(1))


def patch_attention() -> nn.Module:
    """8×8 patches embedded by a convolution, one ``nn.MultiheadAttention`` with a ``LayerNorm`` residual,
    ``GELU``, the mean over the patches and a linear head: no class token or position embedding, so any
    input of 8 pixels or more."""
    return _PatchAttention(patch=8, width=16, heads=2)


class _Head(nn.Module):
    def __init__(self, features: nn.Module, channels: int, pool: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.pool = pool
        self.classifier = nn.Linear(channels, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class _Residual(nn.Module):
    def __init__(self, inputs: int, outputs: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.relu = nn.ReLU()
        self.projection = None if stride == 1 and inputs == outputs else nn.Sequential(
            nn.Conv2d(inputs, outputs, 1, stride=stride, bias=False), nn.BatchNorm2d(outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.projection is None else self.projection(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class _Separable(nn.Sequential):
    def __init__(self, inputs: int, outputs: int) -> None:
        super().__init__(
            nn.Conv2d(inputs, inputs, 3, padding=1, groups=inputs, bias=False), nn.BatchNorm2d(inputs), nn.ReLU6(),
            nn.Conv2d(inputs, outputs, 1, bias=False), nn.BatchNorm2d(outputs), nn.Hardswish(),
        )


class _InvertedResidual(nn.Module):
    def __init__(self, channels: int, expansion: int = 2) -> None:
        super().__init__()
        hidden = channels * expansion
        self.block = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, channels, 1, bias=False), nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class _VisionTransformer(nn.Module):
    def __init__(self, size: int, patch: int, width: int, depth: int, heads: int) -> None:
        super().__init__()
        self.embed = nn.Conv2d(3, width, patch, stride=patch)
        self.class_token = nn.Parameter(torch.randn(1, 1, width) * 0.02)
        self.position = nn.Parameter(torch.randn(1, (size // patch) ** 2 + 1, width) * 0.02)
        self.blocks = nn.Sequential(*[Block(width, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.class_token.expand(len(x), -1, -1), tokens], dim=1) + self.position
        return self.head(self.norm(self.blocks(tokens))[:, 0])


class _PatchAttention(nn.Module):
    def __init__(self, patch: int, width: int, heads: int) -> None:
        super().__init__()
        self.embed = nn.Conv2d(3, width, patch, stride=patch)
        self.attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm = nn.LayerNorm(width)
        self.activation = nn.GELU()
        self.head = nn.Linear(width, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(x).flatten(2).transpose(1, 2)
        tokens = self.norm(tokens + self.attention(tokens, tokens, tokens, need_weights=False)[0])
        return self.head(self.activation(tokens).mean(dim=1))


class _Outputs(nn.Module):
    def __init__(self, network: nn.Module, as_dict: bool) -> None:
        super().__init__()
        self.network = network
        self.as_dict = as_dict

    def forward(self, x: torch.Tensor) -> Any:
        features = self.network.pool(self.network.features(x)).flatten(1)
        logits = self.network.classifier(features)
        return {"logits": logits, "features": features} if self.as_dict else (logits, features)
