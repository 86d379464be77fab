"""The explainer contract, as tests any plugin can run (in the spirit of scikit-learn's ``check_estimator``).

>>> from xaihub.testing import check_explainer, parametrize_with_checks
>>> check_explainer(Brightness())                      # raises AssertionError listing what breaks
>>> @parametrize_with_checks([Brightness()])           # one pytest test per check, readable ids
... def test_contract(check):
...     check()

>>> check_explainer_on_images(Brightness())             # 8 px noise to photo size, flat, 1–3 superpixels

The checks are in :mod:`xaihub.testing.checks`; the models and images they run on in :mod:`xaihub.testing.zoo`.
Importing this package imports no framework: models are built when a check first needs them.
"""

from xaihub.testing.checks import ON_ARCHITECTURES, ON_IMAGES, PER_EXPLAINER, PER_MODEL
from xaihub.testing.contract import (
    ContractCheck,
    ContractReport,
    Outcome,
    check_explainer,
    check_explainer_on_images,
    default_architectures,
    explainer_checks,
    image_checks,
    parametrize_with_checks,
)

__all__ = [
    "ON_ARCHITECTURES",
    "ON_IMAGES",
    "PER_EXPLAINER",
    "PER_MODEL",
    "ContractCheck",
    "ContractReport",
    "Outcome",
    "check_explainer",
    "check_explainer_on_images",
    "default_architectures",
    "explainer_checks",
    "image_checks",
    "parametrize_with_checks",
]
