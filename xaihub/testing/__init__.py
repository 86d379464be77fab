"""The explainer contract, as tests any plugin can run (in the spirit of scikit-learn's ``check_estimator``).

>>> from xaihub.testing import check_explainer, parametrize_with_checks
>>> check_explainer(Brightness())                      # raises AssertionError listing what breaks
>>> @parametrize_with_checks([Brightness()])           # one pytest test per check, readable ids
... def test_contract(check):
...     check()

The checks are in :mod:`xaihub.testing.checks`; the models they run on in :mod:`xaihub.testing.zoo`.
Importing this package imports no framework: models are built when a check first needs them.
"""

from xaihub.testing.checks import ON_ARCHITECTURES, PER_EXPLAINER, PER_MODEL
from xaihub.testing.contract import (
    ContractCheck,
    ContractReport,
    Outcome,
    check_explainer,
    default_architectures,
    explainer_checks,
    parametrize_with_checks,
)

__all__ = [
    "ON_ARCHITECTURES",
    "PER_EXPLAINER",
    "PER_MODEL",
    "ContractCheck",
    "ContractReport",
    "Outcome",
    "check_explainer",
    "default_architectures",
    "explainer_checks",
    "parametrize_with_checks",
]
