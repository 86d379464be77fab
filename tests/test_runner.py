import numpy as np
import pytest

import xaihub
from xaihub import Explainer, Explanation, InputError, ModelError

from toy_models import linear_model

IMAGE = np.random.default_rng(1).integers(0, 256, (24, 24, 3), dtype=np.uint8)


class Scripted(Explainer):
    """An explainer whose output the test chooses, to exercise the runner's checks."""

    defaults = {}

    def __init__(self, name, make):
        self.name = name
        self.make = make

    def explain(self, model, image, targets, *, seed):
        return self.make(model, image, targets)


@pytest.fixture
def scripted(registered):
    return lambda name, make: registered(Scripted(name, make))


def good(model, image, targets):
    model.predict(np.repeat(image[None], 3, axis=0))
    return [Explanation(target=t, attribution=np.ones(image.shape[:2])) for t in targets]


def test_a_raising_plugin_fails_alone(scripted):
    def boom(model, image, targets):
        raise RuntimeError("plugin exploded")

    scripted("t.boom", boom)
    scripted("t.good", good)
    result = xaihub.explain(linear_model(), IMAGE, methods=["t.boom", "t.good", "native.lime"], targets="top-2")
    assert [f.method for f in result.failures] == ["t.boom"]
    assert result.failures[0].error == "RuntimeError" and "plugin exploded" in result.failures[0].message
    assert len(result.by_method("t.good")) == 2 and len(result.by_method("native.lime")) == 2
    assert "t.boom" in result.timings


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda img, t: Explanation(target=t, attribution=np.ones((img.shape[0], img.shape[1] + 1))), "shape"),
        (lambda img, t: Explanation(target=t, attribution=np.full(img.shape[:2], np.nan)), "NaN"),
        (lambda img, t: Explanation(target=t + 1, attribution=np.ones(img.shape[:2])), "not asked for"),
        (lambda img, t: np.ones(img.shape[:2]), "expected xaihub.Explanation"),
        (lambda img, t: Explanation(target=t, attribution=np.ones(img.shape[:2]), channels=np.ones((2, 2, 3))),
         "per-channel"),
    ],
)
def test_validation_turns_a_bad_map_into_a_failure(scripted, bad, message):
    scripted("t.bad", lambda model, image, targets: [bad(image, t) for t in targets])
    result = xaihub.explain(linear_model(), IMAGE, methods=["t.bad", "native.lime"], targets=0)
    assert result.by_method("t.bad") == []
    assert any(f.method == "t.bad" and message in f.message for f in result.failures), result.failures
    assert result.get("native.lime").attribution.shape == (24, 24)


def test_partial_results_are_kept_when_one_target_is_bad(scripted):
    def half(model, image, targets):
        return [Explanation(target=targets[0], attribution=np.zeros(image.shape[:2]))]

    scripted("t.half", half)
    result = xaihub.explain(linear_model(), IMAGE, methods=["t.half"], targets=[0, 1])
    assert [e.target for e in result] == [0]
    assert result.failures[0].target == 1 and "no explanation for target 1" in result.failures[0].message


def test_runner_owns_timings_forward_passes_scores_and_labels(scripted):
    scripted("t.good", good)
    result = xaihub.explain(linear_model(), IMAGE, methods=["t.good"], targets=[2, 0], labels=["r", "g", "b"])
    explanation = result.get("t.good", 2)
    assert explanation.forward_passes == 3
    assert explanation.label == "b" and explanation.method == "t.good"
    assert explanation.score == pytest.approx(IMAGE[..., 2].mean() / 255)  # scores in [0, 1]: no softmax
    assert explanation.seconds > 0 and explanation.versions["numpy"] == np.__version__
    assert [e.target for e in result] == [2, 0]


def test_an_unknown_method_fails_clearly_and_the_others_finish():
    result = xaihub.explain(linear_model(), IMAGE, methods=["no.such", "native.lime"],
                            params={"native.lime": {"num_samples": 20}})
    assert "unknown method 'no.such'" in result.failure("no.such").message
    assert "native.lime" in result.failure("no.such").message
    assert result.get("native.lime").forward_passes == 20


@pytest.mark.parametrize("params, message", [
    ({"samples": 5}, r"native.lime got unknown parameter\(s\) \['samples'\]"),
    ({"num_samples": 1}, r"native.lime: parameter 'num_samples' must be one of 'auto' or an int in \[2, 100000\], got 1"),
    ({"num_samples": True}, "parameter 'num_samples' must be one of 'auto' or an int"),
    ({"alpha": -1.0}, "parameter 'alpha' must be a number >= 0"),
    ({"kernel_width": 0}, "parameter 'kernel_width' must be a number > 0"),
    ({"fill": "grey"}, "parameter 'fill' must be one of 'zero', 'mean', 'blur'"),
    ({"num_samples": 10**9}, "parameter 'num_samples' must be one of 'auto' or an int in"),
])
def test_bad_parameters_are_refused_before_any_method_runs(params, message):
    calls = []

    def model(batch):
        calls.append(len(batch))
        return linear_model()(batch)

    with pytest.raises(InputError, match=message):
        xaihub.explain(model, IMAGE, methods=["gradients.saliency", "native.lime"], params={"native.lime": params})
    assert calls == []


@pytest.mark.parametrize("kwargs, message", [
    ({"methods": None}, "methods must be a list of method names"),
    ({"methods": [None]}, "methods must be method names"),
    ({"methods": []}, "methods is empty"),
    ({"seed": None}, r"seed must be an int in \[0, 2\*\*32\)"),
    ({"seed": -1}, "seed must be an int"),
    ({"seed": 2.5}, "seed must be an int"),
    ({"params": {"native.lime": 5}}, r"params\['native.lime'\] must be a dict"),
    ({"params": [1]}, "params must map method names"),
    ({"labels": "abc"}, "labels must be a sequence of class names"),
    ({"labels": [1, 2, 3]}, "labels must be strings"),
    ({"device": "cuda:7"}, "device 'cuda:7' was asked for"),
])
def test_common_arguments_are_checked_upfront(kwargs, message, torch_model):
    arguments = {"methods": ["native.lime"], **kwargs}
    model = torch_model if "device" in kwargs else linear_model()
    with pytest.raises(InputError, match=message):
        xaihub.explain(model, IMAGE, **arguments)


def test_params_for_methods_not_run_are_refused():
    with pytest.raises(InputError, match="not among methods"):
        xaihub.explain(linear_model(), IMAGE, methods=["native.lime"], params={"native.limee": {}})


@pytest.mark.parametrize(
    "targets, expected",
    [(None, [2]), (1, [1]), ([0, 2], [0, 2]), ("top-2", [2, 1]), ("top-10", [2, 1, 0])],
)
def test_targets(targets, expected):
    image = np.zeros((16, 16, 3), np.uint8)
    image[..., 1], image[..., 2] = 100, 200
    result = xaihub.explain(linear_model(), image, methods=["native.lime"], targets=targets,
                            params={"native.lime": {"num_samples": 10}})
    assert result.targets == expected


@pytest.mark.parametrize("targets", [5, -1, "best", [], [1.5], True])
def test_bad_targets_are_refused(targets):
    with pytest.raises(InputError):
        xaihub.explain(linear_model(), IMAGE, methods=["native.lime"], targets=targets)


def test_a_model_that_cannot_score_the_image_raises_model_error():
    with pytest.raises(ModelError, match="NaN"):
        xaihub.explain(lambda b: np.full((len(b), 3), np.nan), IMAGE, methods=["native.lime"])
    with pytest.raises(ModelError, match="N×K"):
        xaihub.explain(lambda b: np.zeros((len(b) + 1, 3)), IMAGE, methods=["native.lime"])
    with pytest.raises(ModelError, match="don't know how to run"):
        xaihub.explain(object(), IMAGE, methods=["native.lime"])


def test_same_seed_same_result_and_different_seed_different_masks():
    run = lambda seed: xaihub.explain(linear_model(), IMAGE, methods=["native.lime"], seed=seed).get("native.lime")
    first, again, other = run(3), run(3), run(4)
    np.testing.assert_array_equal(first.attribution, again.attribution)
    assert not np.array_equal(first.attribution, other.attribution)


def test_gradient_methods_are_unavailable_for_a_plain_callable(scripted):
    class NeedsTorch(Scripted):
        requires = xaihub.Requirement(xaihub.GRADIENTS, ("torch",))

    xaihub.register(NeedsTorch("t.grad", good))
    try:
        result = xaihub.explain(linear_model(), IMAGE, methods=["t.grad", "native.lime"])
    finally:
        xaihub.unregister("t.grad")
    failure = result.failure("t.grad")
    assert failure.error == "MethodUnavailableError" and "'callable' model" in failure.message
    assert result.get("native.lime") is not None
