"""What the results add up to: :mod:`~xaihub.evaluation.ranking` (which way a metric is better, reference
baselines, rankings with their uncertainty), :mod:`~xaihub.evaluation.dataset_statistics` (a run's metrics
over its images), and the verdict: :mod:`~xaihub.evaluation.criteria` (which metric values answer which
question), :mod:`~xaihub.evaluation.aggregation` (ranks aggregated over metrics and criteria, bootstrap intervals,
Kendall's W), :mod:`~xaihub.evaluation.reliability` (is a metric reliable on this model?) and
:mod:`~xaihub.evaluation.recommendation` (which methods to trust for a model, and what the verdict lacks).
A new criterion of the verdict goes in :data:`~xaihub.evaluation.criteria.CRITERIA`."""
