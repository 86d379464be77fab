"""The ground floor: what every layer above shares, importing nothing of xaihub's but itself.

- the results: :mod:`~xaihub.core.explanation` (:class:`~xaihub.Explanation`), :mod:`~xaihub.core.comparison`
  (:class:`~xaihub.Comparison`), :mod:`~xaihub.core.agreement` (Spearman between maps), and
  :mod:`~xaihub.core.validation` (a plugin's output checked before anyone sees it);
- the inputs: :mod:`~xaihub.core.images`, :mod:`~xaihub.core.image_sources`, :mod:`~xaihub.core.masks`,
  :mod:`~xaihub.core.targets`, :mod:`~xaihub.core.preprocess` (:class:`~xaihub.Preprocess`);
- what methods share: :mod:`~xaihub.core.params` (parameter constraints), :mod:`~xaihub.core.maps`,
  :mod:`~xaihub.core.superpixels` and :mod:`~xaihub.core.quickshift_torch`, :mod:`~xaihub.core.cache`,
  :mod:`~xaihub.core.seeding`, :mod:`~xaihub.core.quiet`;
- the rules for a user's files and errors: :mod:`~xaihub.core.files`, :mod:`~xaihub.core.contained`,
  :mod:`~xaihub.core.errors`.
"""
