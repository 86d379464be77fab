"""Every installed method on every zoo architecture (xaihub.testing.zoo): it explains the model keeping the
contract, or refuses it upfront with its reason. docs/reference/support-matrix.md is this run's table."""

from pathlib import Path

import numpy as np
import pytest

from xaihub.models import ModelOptions
from xaihub.registry.plugins import adapt, list_methods
from xaihub.testing import ON_ARCHITECTURES, check_explainer, zoo
from xaihub.testing.checks import installed_frameworks

from cheap_params import CHEAP

SUPPORT_MATRIX = Path(__file__).resolve().parents[1] / "docs" / "reference" / "support-matrix.md"
ARCHITECTURES = [a for a in zoo.ARCHITECTURES if a.framework in {"callable", *installed_frameworks()} and a.available()]
METHODS = [registered.explainer.name for registered in list_methods()]
SLOW = {"omnixai.ig", "shap.partition"}
"""Methods whose zoo runs take a few seconds each (still run by `make test`; `-m "not slow"` skips them)."""
SLOW_ARCHITECTURES = {"hf.vit", "hf.deit", "hf.swin", "hf.convnext", "timm.vit", "timm.swin", "keras.vit"}
"""The transformers (Hugging Face, timm, Keras): every method on them is `slow` (tests/test_*_cams.py cover
their CAMs in `make test`)."""
COMBINATIONS = [pytest.param(method, architecture, id=f"{method}-{architecture.name}",
                             marks=[pytest.mark.slow] if method in SLOW or architecture.name in SLOW_ARCHITECTURES
                             else [])
                for method in METHODS for architecture in ARCHITECTURES]


@pytest.mark.parametrize("method, architecture", COMBINATIONS)
def test_every_method_keeps_the_contract_or_refuses_upfront_on_every_architecture(method, architecture):
    check_explainer(method, architecture, params=CHEAP.get(method), checks=ON_ARCHITECTURES)


@pytest.mark.parametrize("architecture", ARCHITECTURES, ids=[a.name for a in ARCHITECTURES])
def test_every_architecture_builds_and_scores_the_zoo_image(architecture):
    adapter = adapt(architecture.build(), ModelOptions(preprocess=architecture.preprocess))
    probabilities = adapter.predict(zoo.image()[None])
    assert adapter.framework == architecture.framework
    assert probabilities.shape == (1, zoo.CLASSES) and np.isfinite(probabilities).all()


def test_the_docs_support_matrix_has_a_row_for_every_installed_method_and_a_column_per_architecture():
    block = SUPPORT_MATRIX.read_text(encoding="utf-8").split("<!-- support-matrix: start")[1].split("<!-- support-matrix: end")[0]
    rows = {line.split("`")[1]: line for line in block.splitlines() if line.startswith("| `")}
    missing = sorted(set(METHODS) - set(rows))
    assert not missing, f"docs/reference/support-matrix.md lacks {missing}: run scripts/support_matrix.py"
    header = next(line for line in block.splitlines() if line.startswith("| method |"))
    assert [cell.strip() for cell in header.split("|")[2:-1]] == [a.label for a in zoo.ARCHITECTURES]
