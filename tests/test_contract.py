"""The explainer contract (xaihub.testing): every installed method keeps it, and every check catches what it
checks on an explainer broken on purpose."""

import numpy as np
import pytest

import xaihub
from xaihub import GRADIENTS, Explainer, Explanation, MethodUnavailableError, Requirement
from xaihub.core.params import Real
from xaihub.registry.plugins import get_method, list_methods
from xaihub.testing import check_explainer, checks, explainer_checks, parametrize_with_checks, zoo

from cheap_params import CHEAP


@parametrize_with_checks([registered.explainer for registered in list_methods()], params=CHEAP)
def test_every_installed_method_keeps_the_contract(check):
    check()


class Brightness(Explainer):
    """A black-box explainer that keeps the contract: the image's brightness, after asking the model once."""

    name = "contract.brightness"
    defaults = {"power": 1.0}
    constraints = {"power": Real(0, 10, low_open=True)}

    def explain(self, model, image, targets, *, seed, power):
        model.predict(image[None])
        attribution = ((image.mean(axis=2) / 255.0) ** power).astype(np.float32)
        return [Explanation(target=t, attribution=attribution) for t in targets]


class TorchGradient(Explainer):
    """A torch gradient explainer that keeps the contract."""

    name = "contract.gradient"
    requires = Requirement(GRADIENTS, ("torch",))

    def explain(self, model, image, targets, *, seed):
        import torch

        x = model.differentiable_input(image[None]).requires_grad_(True)
        with torch.enable_grad():
            scores = model.scores(x)
            maps = [torch.autograd.grad(scores[0, t], x, retain_graph=True)[0] for t in targets]
        return [Explanation(target=t, attribution=model.channels_last(g)[0].sum(axis=2)) for t, g in zip(targets, maps)]


def failures(explainer, check, **kwargs) -> str:
    report = check_explainer(explainer, checks=[check], raise_on_failure=False, **kwargs)
    assert report.failures, f"{check.__name__} did not catch {type(explainer).__name__}"
    return " ".join(outcome.message for outcome in report.failures)


def test_well_behaved_explainers_pass_every_check():
    report = check_explainer(Brightness())
    assert not report.failures and len(report.outcomes) == len(checks.PER_EXPLAINER) + len(checks.PER_MODEL)
    assert {o.model for o in report.outcomes} == {None, "callable"}
    assert not check_explainer(TorchGradient(), zoo.get("torch.resnet")).failures
    assert "contract.brightness" not in {m.explainer.name for m in list_methods()}  # stood in, then gone


def test_check_explainer_raises_listing_every_failing_check():
    class Broken(Brightness):
        name = "contract.broken"
        constraints = {}

        def explain(self, model, image, targets, *, seed, power):
            return [Explanation(target=targets[0], attribution=np.zeros((3, 3), np.float32))]

    with pytest.raises(AssertionError) as raised:
        check_explainer(Broken())
    message = str(raised.value)
    assert message.startswith("contract.broken breaks the explainer contract")
    for check in ("check_constraints", "check_maps on callable", "check_targets on callable"):
        assert check in message


def test_declarations():
    class Bare(Brightness):
        name = "brightness"

    class NoFramework(TorchGradient):
        requires = Requirement(GRADIENTS, ())

    class WrongSamples(Brightness):
        samples_parameter = "num_samples"  # not among its defaults

    assert "namespaced" in failures(Bare(), checks.check_declarations)
    assert "gradients of no framework" in failures(NoFramework(), checks.check_declarations, model=zoo.get("torch.cnn"))
    assert "samples_parameter 'num_samples' must be one of defaults" in failures(WrongSamples(),
                                                                                 checks.check_declarations)


def test_defaults_must_match_explains_signature():
    class Undeclared(Brightness):
        defaults = {"power": 1.0, "gamma": 2.0}

    class OtherDefault(Brightness):
        def explain(self, model, image, targets, *, seed, power=2.0):
            return super().explain(model, image, targets, seed=seed, power=power)

    class Required(Brightness):
        def explain(self, model, image, targets, *, seed, power, size):
            return super().explain(model, image, targets, seed=seed, power=power)

    assert "defaults declares 'gamma', which explain does not accept" in failures(
        Undeclared(), checks.check_defaults_match_signature)
    assert "explain's own default for 'power' is 2.0; defaults declares 1.0" in failures(
        OtherDefault(), checks.check_defaults_match_signature)
    assert "explain requires the keyword 'size'" in failures(Required(), checks.check_defaults_match_signature)


def test_every_parameter_needs_a_constraint_its_default_meets():
    class Unconstrained(Brightness):
        constraints = {}

    class BadDefault(Brightness):
        defaults = {"power": 0.0}

    assert "parameter 'power' has no constraint" in failures(Unconstrained(), checks.check_constraints)
    assert "the default power=0.0 breaks its own constraint" in failures(BadDefault(), checks.check_constraints)


def test_bad_parameters_must_be_refused_before_explain(monkeypatch):
    import xaihub.run.runner

    monkeypatch.setattr(xaihub.run.runner, "check_params", lambda params, methods: {k: dict(v) for k, v in params.items()})
    message = failures(Brightness(), checks.check_invalid_parameters_refused)
    assert "power=11 was accepted" in message and "explain was reached" in message


def test_maps_must_be_finite_float_image_sized_and_painted_from_their_segments():
    def answering(attribution=None, **fields):
        class Answering(Brightness):
            def explain(self, model, image, targets, *, seed, power):
                shown = np.zeros(image.shape[:2], np.float32) if attribution is None else attribution(image)
                return [Explanation(target=t, attribution=shown, **fields) for t in targets]

        return Answering()

    height, width = zoo.IMAGE_SIZE
    cases = [
        (answering(lambda image: np.zeros((width, height), np.float32)), f"expected ({height}, {width})"),
        (answering(lambda image: np.full(image.shape[:2], np.nan, np.float32)), "NaN or infinite"),
        (answering(lambda image: np.zeros(image.shape[:2], np.int64)), "has dtype int64, expected floats"),
        (answering(channels=np.zeros((height, width), np.float32)), "channels has shape"),
        (answering(segments=np.zeros((height, width), np.int32), segment_weights=np.ones(1, np.float32)),
         "not the segment weights painted on the segments"),
    ]
    for explainer, expected in cases:
        assert expected in failures(explainer, checks.check_maps)


def test_exactly_the_asked_targets():
    class FirstOnly(Brightness):
        def explain(self, model, image, targets, *, seed, power):
            return super().explain(model, image, targets, seed=seed, power=power)[:1]

    assert "got explanations for" in failures(FirstOnly(), checks.check_targets, targets=[2, 0])


def test_a_method_that_fails_late_is_told_to_refuse_upfront():
    class Late(Brightness):
        def explain(self, model, image, targets, *, seed, power):
            raise RuntimeError("no rule for this layer")

    message = failures(Late(), checks.check_maps)
    assert "raised RuntimeError: no rule for this layer" in message and "refuse the model upfront" in message


def test_the_torch_model_must_be_left_as_it_was():
    class Changing(TorchGradient):
        def explain(self, model, image, targets, *, seed):
            import torch

            explanations = super().explain(model, image, targets, seed=seed)
            with torch.no_grad():
                next(model.model.parameters()).add_(1.0)
            model.model.register_forward_pre_hook(lambda module, args: None)
            model.model.features[0].requires_grad_(True)
            model.model.classifier.weight.grad = torch.ones_like(model.model.classifier.weight)
            return explanations

    message = failures(Changing(), checks.check_model_untouched, model=zoo.get("torch.cnn"))
    for change in ("hooks of the model", "parameter .grad", "parameter and buffer values", "requires_grad"):
        assert change in message


def test_the_keras_model_must_be_left_as_it_was():
    class Changing(Brightness):
        requires = Requirement(GRADIENTS, ("keras",))

        def explain(self, model, image, targets, *, seed, power):
            dense = model.model.layers[-1]
            dense.kernel.assign(dense.kernel + 1.0)
            dense.trainable = False
            return super().explain(model, image, targets, seed=seed, power=power)

    message = failures(Changing(), checks.check_model_untouched, model=zoo.get("keras.sequential"))
    assert "weight values" in message and "trainable flags" in message


@pytest.mark.parametrize("model", ["callable", "torch.cnn", "keras.residual"])
def test_evaluations_outside_the_adapter_must_be_counted(model):
    class Uncounted(Brightness):
        requires = Requirement()

        def explain(self, model, image, targets, *, seed, power):
            model.model(model.model_input(image[None]) if hasattr(model, "model_input") else image[None] / 255.0)
            return super().explain(model, image, targets, seed=seed, power=power)

    message = failures(Uncounted(), checks.check_forward_passes_counted, model=zoo.get(model))
    assert "the model evaluated 2 image(s) but the adapter counted 1 forward pass(es)" in message


def test_a_refusal_may_cost_one_probe_of_the_image_at_most():
    class Probing(Brightness):
        def check_model(self, model, image):
            model.predict(image[None])
            raise MethodUnavailableError("contract.brightness cannot explain this model")

    class Costly(Brightness):
        def check_model(self, model, image):
            model.predict(np.stack([image, image]))
            raise MethodUnavailableError("contract.brightness cannot explain this model")

    assert not check_explainer(Probing(), checks=[checks.check_refusal_is_upfront], raise_on_failure=False).failures
    message = failures(Costly(), checks.check_refusal_is_upfront)
    assert "check_model spent 2 forward pass(es) (2 image(s) evaluated) before refusing" in message
    report = check_explainer(Costly(), checks=[checks.check_maps], raise_on_failure=False)
    assert not report.failures and report.unavailable("callable") == "contract.brightness cannot explain this model"


def test_equal_seeds_must_give_equal_maps():
    class Unseeded(Brightness):
        def explain(self, model, image, targets, *, seed, power):
            noise = np.random.default_rng().normal(size=image.shape[:2]).astype(np.float32)
            return [Explanation(target=t, attribution=noise) for t in targets]

    assert "differs between two runs with seed 0" in failures(Unseeded(), checks.check_seeds)


def test_requires_must_be_honoured():
    class AcceptsAnything(TorchGradient):
        def check_model(self, model, image):
            pass

    class NotReallyBlackBox(Brightness):
        def explain(self, model, image, targets, *, seed, power):
            return model.differentiable_input(image[None])

    message = failures(AcceptsAnything(), checks.check_requires, model=zoo.get("torch.cnn"))
    assert "check_model accepted a callable model" in message and "check_model accepted a keras model" in message
    assert "a black-box method failed on a plain function" in failures(NotReallyBlackBox(), checks.check_requires)


def test_checks_have_readable_ids_and_share_one_run_per_model():
    found = explainer_checks(Brightness(), [zoo.get("torch.cnn"), zoo.get("keras.sequential")])
    ids = [check.id for check in found]
    assert ids[:len(checks.PER_EXPLAINER)] == [f"contract.brightness-{c.__name__}" for c in checks.PER_EXPLAINER]
    assert "contract.brightness-torch.cnn-check_maps" in ids and "contract.brightness-keras.sequential-check_seeds" in ids
    per_model = [check for check in found if check.per_model]
    assert len({id(check.subject) for check in per_model}) == 2


def test_a_registered_method_checked_as_a_new_instance_leaves_the_registry_as_it_was():
    original = get_method("native.lime").explainer
    assert not check_explainer(type(original)(), params=CHEAP["native.lime"],
                               checks=[checks.check_invalid_parameters_refused]).failures
    assert get_method("native.lime").explainer is original


def test_a_third_party_plugin_runs_the_contract_in_its_own_tests():
    """What docs/howto/plugin.md shows a plugin author."""

    @parametrize_with_checks([Brightness()], params={"contract.brightness": {"power": 2.0}})
    def test_contract(check):
        check()

    marker = test_contract.pytestmark[0]
    assert marker.name == "parametrize" and marker.args[0] == "check"
    for check in marker.args[1]:
        check()
    assert xaihub.testing.check_explainer is check_explainer


def test_any_other_failure_of_explain_breaks_the_contract_however_early():
    class Late(Brightness):
        def explain(self, model, image, targets, *, seed, power):
            model.predict(np.stack([image] * 3))
            raise ValueError("Expected parameter probs of distribution Categorical")

    class Early(Brightness):
        def explain(self, model, image, targets, *, seed, power):
            raise ValueError("too few features")

    message = failures(Late(), checks.check_failures_are_upfront)
    assert "failed after 3 forward pass(es) of explain with ValueError: Expected parameter probs" in message
    assert "refuses upfront" in message
    assert "failed after 0 forward pass(es) of explain with ValueError" in failures(
        Early(), checks.check_failures_are_upfront)


def test_a_refusal_from_explain_before_its_work_is_upfront_and_after_it_is_not():
    class RefusesTheImage(Brightness):
        def explain(self, model, image, targets, *, seed, power):
            raise MethodUnavailableError("contract.brightness needs at least 2 superpixels")

    class RefusesLate(Brightness):
        def explain(self, model, image, targets, *, seed, power):
            model.predict(np.stack([image] * 4))
            raise MethodUnavailableError("contract.brightness gave up")

    report = check_explainer(RefusesTheImage(), checks=checks.ON_IMAGES, raise_on_failure=False)
    assert not report.failures and report.unavailable("callable") == "contract.brightness needs at least 2 superpixels"
    assert "spent 4 forward pass(es) (4 image(s) evaluated) before refusing" in failures(
        RefusesLate(), checks.check_refusal_is_upfront)


def test_image_checks_run_every_case_on_every_model_with_its_superpixels():
    class Superpixels(Brightness):
        defaults = {"power": 1.0, "segments": None}
        constraints = {**Brightness.constraints, "segments": [None, xaihub.core.params.Array(2, "iu", "superpixel ids")]}
        seen: list = []

        def explain(self, model, image, targets, *, seed, power, segments):
            self.seen.append((image.shape, None if segments is None else int(segments.max()) + 1))
            return super().explain(model, image, targets, seed=seed, power=power)

    found = xaihub.testing.image_checks(Superpixels(), [zoo.get("callable"), zoo.get("torch.depthwise_max")])
    assert len(found) == len(zoo.IMAGE_CASES) * 2 * len(checks.ON_IMAGES)
    assert "contract.brightness-torch.depthwise_max@noise8-check_failures_are_upfront" in {c.id for c in found}
    report = xaihub.testing.check_explainer_on_images(Superpixels(), zoo.get("callable"))
    assert not report.failures and len(report.outcomes) == len(zoo.IMAGE_CASES) * len(checks.ON_IMAGES)
    assert ((8, 8, 3), None) in Superpixels.seen and ((224, 224, 3), None) in Superpixels.seen
    assert [count for shape, count in Superpixels.seen if count] == [1, 2, 3]
    unsegmented = [case for case in zoo.IMAGE_CASES if case.superpixels is None]
    assert len(xaihub.testing.image_checks(Brightness())) == len(unsegmented) * len(checks.ON_IMAGES)


def test_image_checks_catch_a_method_that_breaks_on_tiny_images():
    class Tiny(Brightness):
        def explain(self, model, image, targets, *, seed, power):
            if min(image.shape[:2]) < 16:
                model.predict(image[None])
                raise IndexError("window larger than the image")
            return super().explain(model, image, targets, seed=seed, power=power)

    report = xaihub.testing.check_explainer_on_images(Tiny(), raise_on_failure=False)
    assert {(o.model, o.check) for o in report.failures} == {
        ("callable@noise8", "check_failures_are_upfront"), ("callable@noise8", "check_maps")}
