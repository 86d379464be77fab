"""Running methods and metrics: :mod:`~xaihub.run.runner` (:func:`~xaihub.explain`, one image) and
:mod:`~xaihub.run.measure` (its metrics), :mod:`~xaihub.run.batch` (:func:`~xaihub.explain_many`, many images)
with :mod:`~xaihub.run.executors` (this process or Dask), :mod:`~xaihub.run.run_directory` (the files it
writes and resumes) and :mod:`~xaihub.run.fingerprint` (what a resume must match), and
:mod:`~xaihub.run.progress`."""
