"""Hugging Face ``transformers`` image classifiers for :mod:`xaihub.testing.zoo`: the models users load,
built from a small config with random, seeded weights (nothing is downloaded). Imports torch and
transformers.

Each returns the ``*ForImageClassification`` model itself, as a user hands it over: its output object
(``ImageClassifierOutput``) reads as logits. ViT and DeiT take 32×32 inputs (their position embeddings are
for that grid); Swin and ConvNeXt take any input size.

transformers imports torchvision where it is installed; beside the local CPU torch that needs
:func:`xaihub.models.torchvision_shim.import_torchvision` first, which this module calls.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from xaihub.models.torchvision_shim import import_torchvision
from xaihub.testing.zoo_torch import CLASSES, seeded

if importlib.util.find_spec("torchvision") is not None:
    import_torchvision()

SIZE = 32
"""The input side ViT and DeiT are configured for."""
_SMALL = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
          "image_size": SIZE, "patch_size": 8, "num_labels": CLASSES}


def timm_vit() -> Any:
    """timm's ``VisionTransformer`` (``vit_tiny_patch16_224``'s design at 32×32): 8×8 patches, a class token,
    two blocks; needs timm (and torchvision)."""
    import timm

    return seeded(lambda: timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=CLASSES,
                                            img_size=SIZE, patch_size=8, depth=2, embed_dim=32, num_heads=2))


def timm_swin() -> Any:
    """timm's ``SwinTransformer`` at 32×32: 4×4 patches, two stages, channels-last ``N×h×w×C`` blocks."""
    import timm

    return seeded(lambda: timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, num_classes=CLASSES,
                                            img_size=SIZE, patch_size=4, window_size=4, embed_dim=16,
                                            depths=(1, 1), num_heads=(2, 2)))


def vit() -> Any:
    """``ViTForImageClassification``: 8×8 patches, a class token, two blocks, the class token's head."""
    from transformers import ViTConfig, ViTForImageClassification

    return seeded(lambda: ViTForImageClassification(ViTConfig(**_SMALL)))


def deit() -> Any:
    """``DeiTForImageClassificationWithTeacher``: a class and a distillation token (two leading tokens),
    the mean of the two heads."""
    from transformers import DeiTConfig, DeiTForImageClassificationWithTeacher

    return seeded(lambda: DeiTForImageClassificationWithTeacher(DeiTConfig(**_SMALL)))


def swin() -> Any:
    """``SwinForImageClassification``: 4×4 patches, two stages (windows of 4, one patch merging), no class
    token, the mean over the last stage's tokens; any input size (padded to the windows)."""
    from transformers import SwinConfig, SwinForImageClassification

    config = SwinConfig(image_size=SIZE, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[2, 2],
                        window_size=4, num_labels=CLASSES)
    return seeded(lambda: SwinForImageClassification(config))


def convnext() -> Any:
    """``ConvNextForImageClassification``: a convolutional network in a transformer's clothes (4×4 patch
    stem, depthwise 7×7 convolutions, channels-last ``LayerNorm``); two stages. Layer scale starts at 1,
    not the config's 1e-6, so that its random blocks are not near-identities (a trained ConvNeXt's
    are not; at 1e-6 every map inside a block is ~1e-10)."""
    from transformers import ConvNextConfig, ConvNextForImageClassification

    config = ConvNextConfig(num_stages=2, hidden_sizes=[8, 16], depths=[1, 1], num_labels=CLASSES,
                            layer_scale_init_value=1.0)
    return seeded(lambda: ConvNextForImageClassification(config))


def beit() -> Any:
    """``BeitForImageClassification``: 8×8 patches, a class token, relative position biases shared per layer,
    the mean of the patch tokens for the head (BEiT's classifier); any input size (the biases are interpolated)."""
    from transformers import BeitConfig, BeitForImageClassification

    config = BeitConfig(**_SMALL, use_relative_position_bias=True, use_mean_pooling=True)
    return seeded(lambda: BeitForImageClassification(config))


def dinov2_registers() -> Any:
    """``Dinov2WithRegistersForImageClassification``: 8×8 patches, a class token and 4 register tokens (five
    leading tokens), layer scale; the head reads the class token and the mean of the patch tokens (registers
    left out); any input size (position embeddings interpolated)."""
    from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersForImageClassification

    small = {k: v for k, v in _SMALL.items() if k != "intermediate_size"}
    config = Dinov2WithRegistersConfig(**small, mlp_ratio=2, num_register_tokens=4)
    return seeded(lambda: Dinov2WithRegistersForImageClassification(config))
