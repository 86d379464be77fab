"""What the results add up to: :mod:`~xaihub.evaluation.ranking` (which way a metric is better, reference
baselines, rankings with their uncertainty), :mod:`~xaihub.evaluation.dataset_statistics` (a run's metrics
over its images) and :mod:`~xaihub.evaluation.recommendation` (which methods to trust for a model).
A new criterion of the verdict goes here."""
