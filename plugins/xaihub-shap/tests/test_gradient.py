"""shap.gradient on torch and Keras models, and what it must leave untouched."""

import numpy as np
import pytest

import xaihub

pytest.importorskip("shap")


def explain(model, image, targets, seed=0, **params):
    params = {"nsamples": 40, **params}
    return xaihub.explain(model, image, methods=["shap.gradient"], targets=targets, seed=seed,
                          params={"shap.gradient": params})


def hooks_of(model):
    return [(name, dict(m._forward_hooks), dict(m._forward_pre_hooks), dict(m._backward_hooks),
             dict(m._backward_pre_hooks)) for name, m in model.named_modules()]


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_gradient_puts_more_mass_on_the_disc(framework, request, object_image):
    model = request.getfixturevalue(f"{framework}_model")
    image, mask, label = object_image
    result = explain(model, image, [label, 3])
    assert result.ok, result.failures
    assert [e.target for e in result] == [label, 3]
    disc = result.get("shap.gradient", label)
    assert disc.attribution[mask].mean() > 0 and disc.attribution[mask].mean() > disc.attribution[~mask].mean()
    assert disc.channels.shape == (*image.shape[:2], 3)
    np.testing.assert_allclose(disc.attribution, disc.channels.sum(axis=2), rtol=1e-5, atol=1e-12)
    assert not np.allclose(disc.attribution, result.get("shap.gradient", 3).attribution)
    assert disc.forward_passes > 2 * 40  # nsamples interpolated images per target, plus shap's own passes


def test_gradient_on_torch_leaves_no_hooks_restores_train_mode_and_repeats_with_a_seed(torch_model, object_image):
    image, _, label = object_image
    before = hooks_of(torch_model)
    grads = [p.grad for p in torch_model.parameters()]
    torch_model.train()
    try:
        first = explain(torch_model, image, [label], background="blur", n_background=2, nsamples=20)
        assert torch_model.training and all(m.training for m in torch_model.modules())
        again = explain(torch_model, image, [label], background="blur", n_background=2, nsamples=20)
    finally:
        torch_model.eval()
    assert first.ok, first.failures
    assert hooks_of(torch_model) == before
    assert all(p.grad is g for p, g in zip(torch_model.parameters(), grads))
    np.testing.assert_array_equal(first.get("shap.gradient", label).attribution,
                                  again.get("shap.gradient", label).attribution)
    assert first.get("shap.gradient", label).extras["n_background"] == 2


def test_gradient_needs_a_torch_or_keras_model(object_image):
    image, _, _ = object_image
    result = explain(lambda x: x.mean(axis=(1, 2)), image, [0])
    failure = result.failure("shap.gradient")
    assert failure.error == "MethodUnavailableError" and "torch or keras" in failure.message


def test_bad_background_is_refused_upfront(torch_model, object_image):
    image, _, label = object_image
    with pytest.raises(xaihub.InputError, match="parameter 'background' must be one of 'zero', 'blur'"):
        explain(torch_model, image, [label], background="noise")
