"""The ``xaihub`` command line."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from xaihub.core.errors import InputError, XaihubError
from xaihub.registry.plugins import get_method, list_methods, list_metrics, load_failures, methods_for
from xaihub.run.run_directory import RESUME_MODES

ALL_METHODS = "all"
"""``--methods all``: every installed method the model meets the needs of."""


def _cmd_list(args: argparse.Namespace) -> int:
    methods = [(m.explainer, m.plugin, m.explainer.requires.describe()) for m in list_methods()]
    metrics = [(m.metric, m.plugin, m.metric.describe_needs()) for m in list_metrics()]
    refusal = _model_check(args)
    for heading, entries in (("method", methods), ("metric", metrics)):
        if heading == "metric":
            print()
        rows = [(heading, "plugin", "needs", "status")]
        for entry, plugin, needs in entries:
            try:
                entry.check_available()
                status = "available"
            except Exception as exc:
                status = f"unavailable: {exc}"
            else:
                if refusal is not None and heading == "method":
                    status = refusal(entry)
            rows.append((entry.name, plugin, needs, status))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[3])
    failures = load_failures()
    if failures:
        print("\nplugins that failed to load:")
        for failure in failures:
            print(f"  {failure.plugin}: {failure.error}")
    return 0


def _cmd_describe(args: argparse.Namespace) -> int:
    from xaihub.registry.describe import describe

    print(describe(args.method))
    return 0


def _model_check(args: argparse.Namespace) -> Any:
    """With ``list --model``: a function giving each method's status for that model (its ``check_model``
    on ``--image``, or a mid-grey 224×224 image), else ``None``."""
    if not args.model:
        if args.image or args.preprocess:
            raise InputError("list takes --image and --preprocess with --model")
        return None
    import numpy as np

    from xaihub.core.comparison import UNAVAILABLE
    from xaihub.core.errors import MethodUnavailableError
    from xaihub.core.images import to_rgb_uint8
    from xaihub.models import ModelOptions
    from xaihub.registry.loading import import_object, load_model
    from xaihub.registry.plugins import adapt

    image = to_rgb_uint8(args.image) if args.image else np.full((224, 224, 3), 128, np.uint8)
    preprocess = import_object(args.preprocess, "--preprocess") if args.preprocess else None
    adapter = adapt(load_model(args.model), ModelOptions(preprocess=preprocess))
    adapter.predict(image[None])  # what check_model may read (classes, output kind) is known, as in explain

    def status(explainer: Any) -> str:
        try:
            explainer.check_model(adapter, image)
        except MethodUnavailableError as exc:
            return f"{UNAVAILABLE}: {exc}"
        except Exception as exc:
            return f"check_model failed: {type(exc).__name__}: {exc}"
        return "available"

    return status


def _cmd_compare(args: argparse.Namespace) -> int:
    from xaihub.core.image_sources import image_source
    from xaihub.core.images import to_rgb_uint8
    from xaihub.ground_truth import demo
    from xaihub.method_benchmark import first_readable
    from xaihub.registry.loading import load_labels, load_model, source_file
    from xaihub.run.measure import check_metrics

    methods = _method_names(args.methods) if args.methods is not None else None
    if methods == []:
        raise InputError("--methods is empty; name at least one method (see `xaihub list`) or say all")
    for method in methods or []:
        if method != ALL_METHODS:
            get_method(method)
    metrics = check_metrics(_names(args.metrics) if args.metrics else None)
    if args.top_k < 1:
        raise InputError(f"--top-k must be at least 1, got {args.top_k}")
    if not args.demo and (not args.model or not (args.image or args.images)):
        raise InputError("compare needs --model and --image or --images (or --demo)")
    if args.images:
        image_source(args.images)  # a missing or empty folder is refused before the model loads
    elif args.run_dir or args.executor or args.resume or args.model_id:
        raise InputError("--run-dir, --executor, --resume and --model-id go with --images DIR")
    run_dir = args.run_dir or f"{os.path.splitext(args.out)[0]}-run"
    inputs = _input_files(args)
    _refuse_overwriting(args.out, run_dir if args.images else None, inputs)
    pixels = [to_rgb_uint8(path) for path in args.image or []]
    labels = list(demo.CLASS_NAMES) if args.demo else None
    if args.labels:
        labels = load_labels(args.labels)
    preprocess = _preprocess(args.preprocess)
    model = demo.train_torch_model(args.seed) if args.demo else load_model(args.model)
    params = None
    if methods == [ALL_METHODS]:
        methods = _methods_for(model, preprocess)
    elif methods is None:
        first = pixels[0] if pixels else demo.demo_image()[0] if not args.images else first_readable(args.images)[1]
        methods, params = _default_methods(model, preprocess, first, controls=bool(metrics))
        if args.budget or args.samples:  # the budget asked replaces the benchmark's for the sampling methods
            params = {m: v for m, v in params.items() if get_method(m).explainer.samples_parameter is None}
    modules = [source_file(spec) for spec in (args.model, args.preprocess) if spec and ":" in spec]
    _refuse_overwriting(args.out, run_dir if args.images else None, [path for path in modules if path])
    options = {"methods": methods, "targets": f"top-{args.top_k}", "preprocess": preprocess, "labels": labels,
               "seed": args.seed, "metrics": metrics, "params": params, "budget": args.budget, "samples": args.samples}
    if args.images:
        return _compare_folder(args, run_dir, model, options)
    if not args.image:  # --demo alone: its photo
        return _compare_images(args.out, model, ["demo image"], [demo.demo_image()[0]], options)
    return _compare_images(args.out, model, [os.fspath(path) for path in args.image], pixels, options)


def _cmd_benchmark(args: argparse.Namespace) -> int:
    """Benchmark methods on a folder of images (resumable run directory), write the dataset report and print
    the recommendation."""
    from xaihub.core.image_sources import image_source
    from xaihub.method_benchmark import benchmark
    from xaihub.registry.loading import load_labels, load_model, source_file
    from xaihub.run.measure import check_metrics

    methods = _method_names(args.methods) if args.methods else None
    for method in methods or []:
        if method != ALL_METHODS:
            get_method(method)
    metrics = check_metrics(_names(args.metrics), per_image=("mask",) if args.masks else ()) if args.metrics else None
    if args.top_k < 1:
        raise InputError(f"--top-k must be at least 1, got {args.top_k}")
    image_source(args.images)  # a missing or empty folder is refused before the model loads
    if args.masks and not os.path.isdir(args.masks):
        raise InputError(f"--masks {args.masks!r} is not a folder")
    run_dir = args.run_dir or f"{os.path.splitext(args.out)[0]}-run"
    _refuse_overwriting(args.out, run_dir, _input_files(args))
    labels = load_labels(args.labels) if args.labels else None
    preprocess = _preprocess(args.preprocess)
    model = load_model(args.model)
    if methods == [ALL_METHODS]:
        methods = _methods_for(model, preprocess)
    modules = [source_file(spec) for spec in (args.model, args.preprocess) if spec and ":" in spec]
    _refuse_overwriting(args.out, run_dir, [path for path in modules if path])
    chosen = dict(methods=methods, metrics=metrics, masks=args.masks, targets=f"top-{args.top_k}",
                  preprocess=preprocess, labels=labels, controls=not args.no_controls, budget=args.budget,
                  samples=args.samples, max_minutes=args.max_minutes, reliability=not args.no_reliability,
                  **({"families": "all" if args.families == "all" else _names(args.families)} if args.families else {}))
    if args.plan:
        from xaihub.method_benchmark import plan

        print(plan(model, args.images, **chosen))
        return 0
    result = benchmark(model, args.images, out=run_dir, report=args.out, seed=args.seed, executor=args.executor,
                       resume=args.resume or "check", model_id=args.model_id, progress=None,
                       on_plan=lambda planned: print(planned, flush=True), **chosen)
    print(result)
    if not any(method.explanations for method in result.statistics.methods.values()):
        return _nothing_explained()
    return 0


def _names(text: str) -> list[str]:
    """A comma-separated list of names."""
    return [name.strip() for name in text.split(",") if name.strip()]


def _method_names(text: str) -> list[str]:
    """``--methods``: names, or ``all`` alone."""
    names = _names(text)
    if ALL_METHODS in names and len(names) > 1:
        raise InputError(f"--methods {ALL_METHODS} stands alone; got {text!r}")
    return names


def _preprocess(spec: str | None) -> Any:
    """``--preprocess module:function``: a function or an ``xaihub.Preprocess``."""
    from xaihub.core.preprocess import Preprocess
    from xaihub.registry.loading import import_object

    preprocess = import_object(spec, "--preprocess") if spec else None
    if preprocess is not None and not (callable(preprocess) or isinstance(preprocess, Preprocess)):
        raise InputError(f"--preprocess {spec!r} is not callable")
    return preprocess


def _methods_for(model: Any, preprocess: Any) -> list[str]:
    """``--methods all``: every installed method whose needs the model meets (see ``methods_for``)."""
    from xaihub.models import ModelOptions
    from xaihub.registry.plugins import adapt

    methods = methods_for(adapt(model, ModelOptions(preprocess=preprocess)))
    if not methods:
        raise InputError("--methods all: no installed method can explain this model (see `xaihub list`)")
    print(f"--methods all: {', '.join(methods)}")
    return methods


def _default_methods(model: Any, preprocess: Any, image: Any,
                     controls: bool = False) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """No ``--methods``: the curated default of ``xaihub benchmark`` and ``make demo``
    (:func:`xaihub.method_benchmark.default_methods`: one method per family that can explain the model, the
    baselines and, with ``controls`` (when metrics are asked), the image-only control) on the benchmark's sample
    budgets (:data:`xaihub.method_benchmark.BUDGETS`)."""
    from xaihub.method_benchmark import BUDGETS, default_methods
    from xaihub.models import ModelOptions
    from xaihub.registry.plugins import adapt

    adapter = adapt(model, ModelOptions(preprocess=preprocess))
    adapter.predict(image[None])  # what check_model may read (classes, output kind) is known, as in explain
    methods = default_methods(adapter, image, controls=controls)
    if not methods:
        raise InputError("no installed method can explain this model (see `xaihub list --model ...`)")
    print(f"methods (the default: one per family and the baselines; --methods all for every one): "
          f"{', '.join(methods)}")
    return methods, {m: dict(BUDGETS[m]) for m in methods if m in BUDGETS}


def _input_files(args: argparse.Namespace) -> list[str]:
    """Every file or folder the command reads, known before anything is imported."""
    from xaihub.core.image_sources import IMAGE_SUFFIXES

    inputs = list(getattr(args, "image", None) or [])
    inputs += [path for path in (args.labels, args.model) if path and os.path.exists(path)]
    for folder in (args.images, getattr(args, "masks", None)):
        if folder:
            inputs.append(folder)
            inputs += [os.path.join(folder, name) for name in os.listdir(folder) if name.lower().endswith(IMAGE_SUFFIXES)]
    return inputs


def _refuse_overwriting(out: str, run_dir: str | None, inputs: list[str]) -> None:
    """xaihub never writes over what it reads: the report and the run directory may not be (or,
    for the run directory's own files, contain) an input, hard links included."""
    from xaihub.core.files import check_destination
    from xaihub.run.run_directory import managed_path

    if os.path.isdir(out):
        raise InputError(f"--out {out!r} is a directory; name the HTML file to write")
    check_destination(out)  # a missing folder, a FIFO or a device there is refused before any work
    for source in inputs:
        if _same_file(out, source):
            raise InputError(f"--out {out!r} is the input {source!r}; xaihub never writes over its inputs")
        if run_dir is not None and (_same_file(run_dir, source) or managed_path(run_dir, source)):
            raise InputError(f"the run directory {run_dir!r} would write over the input {source!r}; "
                             "choose another --run-dir")
    if run_dir is not None and (_same_file(out, run_dir) or managed_path(run_dir, out)):
        raise InputError(f"--out {out!r} would write over the run directory {run_dir!r} or its files; "
                         "choose another --out or --run-dir")


def _same_file(path: str, other: str) -> bool:
    if os.path.realpath(path) == os.path.realpath(other):
        return True
    try:
        return os.path.samefile(path, other)  # hard links
    except OSError:
        return False


def _compare_images(out: str, model: Any, names: list[str], pixels: list[Any], options: dict[str, Any]) -> int:
    """One report section per image."""
    from xaihub.core.files import atomic_output
    from xaihub.report import report_many
    from xaihub.run.runner import explain

    comparisons = []
    for name, image in zip(names, pixels):
        comparison = explain(model, image, **options)
        print(f"{name}\n{comparison.summary()}\n")
        comparisons.append(comparison)
    with atomic_output(out) as temporary:
        report_many(comparisons, temporary, names=names)
    print(f"report: {out}")
    if not any(c.explanations for c in comparisons):
        return _nothing_explained()
    return 0


def _compare_folder(args: argparse.Namespace, run_dir: str, model: Any, options: dict[str, Any]) -> int:
    """Explain a folder into a run directory (resuming an earlier run there), then write the dataset report."""
    from xaihub.core.files import atomic_output
    from xaihub.evaluation.dataset_statistics import dataset_statistics
    from xaihub.report import dataset_report
    from xaihub.run.batch import explain_many
    from xaihub.run.run_directory import EXPLANATIONS_DIR, INDEX_NAME

    summary = explain_many(model, args.images, out=run_dir, executor=args.executor, resume=args.resume or "check",
                           model_id=args.model_id, **options)
    print(summary)
    stats = dataset_statistics(run_dir)
    print(f"\n{stats.timing_table()}\n")
    with atomic_output(args.out) as temporary:
        dataset_report(run_dir, temporary)
    print(f"report: {args.out}\nrun directory: {run_dir} (index: "
          f"{os.path.join(run_dir, INDEX_NAME)}, explanations: {os.path.join(run_dir, EXPLANATIONS_DIR)})")
    if not any(method.explanations for method in stats.methods.values()):
        return _nothing_explained()
    return 0


def _nothing_explained() -> int:
    print("xaihub: error: no method produced an explanation; see the failures above", file=sys.stderr)
    return 1


def _budget_arguments(parser: argparse.ArgumentParser) -> None:
    from xaihub.core.params import BUDGETS

    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--budget", choices=list(BUDGETS), help="every sampling method's own number of samples at a "
                                                                "quarter (fast), one or four (thorough) times its "
                                                                "default (see `xaihub describe METHOD`)")
    chosen.add_argument("--samples", type=int, metavar="N", help="every sampling method draws N of its own unit "
                                                                 "(samples, steps, noisy copies, evaluations)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xaihub", description="Compare explanations of image classifiers.")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="list registered methods, their plugins and plugins that failed to "
                                                  "load; with --model, whether each method can explain that model")
    listing.add_argument("--model", help="a model (as for compare): each method's status says whether it can "
                                         "explain it, or is unavailable for this model and why")
    listing.add_argument("--image", metavar="PATH", help="with --model: the image methods check the model on "
                                                         "(default: a mid-grey 224×224 image)")
    listing.add_argument("--preprocess", help="with --model: module:function mapping pixel batches to model input")
    describing = commands.add_parser("describe", help="a method's parameters with their defaults and constraints, "
                                                      "its family, plugin, libraries, needs and sample budget")
    describing.add_argument("method", help="a method name, as `xaihub list` shows it")
    compare = commands.add_parser("compare", help="explain images with several methods and write an HTML report")
    source = compare.add_mutually_exclusive_group()
    source.add_argument("--model", help="TorchScript .pt/.pth, saved Keras .keras, or module:object "
                                        "(a model or predict function, used as-is)")
    source.add_argument("--demo", action="store_true", help="use the bundled demo CNN (trained in seconds) "
                                                             "and, without --image, its demo photo")
    images = compare.add_mutually_exclusive_group()
    images.add_argument("--image", nargs="+", metavar="PATH", help="image file(s); one report section each")
    images.add_argument("--images", metavar="DIR", help="a folder of images: explain them all into a run "
                                                        "directory (resumable) and write a dataset report")
    compare.add_argument("--methods",
                         help="comma-separated methods (see `xaihub list`), or `all`: every installed method whose "
                              "needs the model meets (methods that refuse its architecture are reported unavailable); "
                              "default: one per family, the first of its implementations that can explain the model, "
                              "and the baselines, on the benchmark's sample budgets (as `make demo`)")
    _budget_arguments(compare)
    compare.add_argument("--top-k", type=int, default=5, help="explain the k most probable classes (default 5)")
    compare.add_argument("--out", default="report.html", help="HTML report to write (default report.html)")
    compare.add_argument("--labels", help="class names: a text file with one per line, or a JSON list")
    compare.add_argument("--preprocess", help="module:function mapping N×H×W×3 pixel batches to model input")
    compare.add_argument("--seed", type=int, default=0)
    compare.add_argument("--metrics", help="comma-separated metrics, e.g. deletion,insertion,degradation "
                                           "(see `xaihub list`)")
    compare.add_argument("--run-dir", metavar="DIR", help="with --images: where explanations are saved and a "
                                                          "re-run resumes (default: next to --out, <out>-run)")
    compare.add_argument("--executor", choices=["dask"], help="with --images: explain on a local Dask cluster")
    compare.add_argument("--resume", choices=RESUME_MODES, help="with --images, when the run directory holds results "
                                                                "of another setup: check (refuse; the default), "
                                                                "overwrite (start over) or force (mix them)")
    compare.add_argument("--model-id", help="with --images: names the model in the run's fingerprint (instead of "
                                            "its weights or its function's name)")
    bench = commands.add_parser("benchmark", help="run methods over a folder of images, score their faithfulness, "
                                                  "sanity and localisation, and recommend which to trust")
    bench.add_argument("--model", required=True, help="as for compare")
    bench.add_argument("--images", required=True, metavar="DIR", help="a folder of images")
    bench.add_argument("--masks", metavar="DIR", help="object masks, one image file per image (same stem; the "
                                                      "object is every non-black pixel): adds the pointing game and "
                                                      "relevance mass")
    bench.add_argument("--methods", help="comma-separated methods, or `all` (default: one per family, the "
                                         "first of its implementations that can explain the model, and the baselines)")
    bench.add_argument("--families", help="without --methods: comma-separated families, or `all` (default: ten "
                                          "families, xaihub.method_benchmark.DEFAULT_FAMILIES)")
    bench.add_argument("--metrics", help="comma-separated metrics (default: SRG, Quantus' ROAD and sparseness when "
                                         "installed, the randomisation sanity check; with --masks, localisation)")
    _budget_arguments(bench)
    bench.add_argument("--plan", action="store_true", help="print the cost plan (forward passes and estimated "
                                                           "seconds per method and metric) and exit without running")
    bench.add_argument("--max-minutes", type=float, metavar="M", help="lower the sample budget until the plan fits M "
                       "minutes (refused upfront when even the smallest does not); stop starting methods past it")
    bench.add_argument("--no-reliability", action="store_true", help="skip the check of each metric's reliability "
                       "on this model after the run (a large part of a short run's time; the verdict says it was "
                       "skipped)")
    bench.add_argument("--top-k", type=int, default=1, help="explain the k most probable classes (default 1)")
    bench.add_argument("--no-controls", action="store_true", help="leave the image-only control (baseline.edges) "
                                                                  "out of the default methods")
    bench.add_argument("--out", default="benchmark.html", help="HTML report to write (default benchmark.html)")
    bench.add_argument("--run-dir", metavar="DIR", help="where explanations are saved and a re-run resumes "
                                                        "(default: next to --out, <out>-run)")
    bench.add_argument("--labels", help="class names: a text file with one per line, or a JSON list")
    bench.add_argument("--preprocess", help="module:function or module:Preprocess object for the model's input")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--executor", choices=["dask"], help="explain on a local Dask cluster")
    bench.add_argument("--resume", choices=RESUME_MODES, help="as for compare --images")
    bench.add_argument("--model-id", help="names the model in the run's fingerprint")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"list": _cmd_list, "describe": _cmd_describe, "compare": _cmd_compare, "benchmark": _cmd_benchmark}
    try:
        return handlers[args.command](args)
    except (XaihubError, OSError) as exc:
        message = str(exc).strip().splitlines() or [type(exc).__name__]
        print(f"xaihub: error: {message[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
