"""The fast paths give the reference results: on-device vs host, shared vs unshared, torch vs skimage quickshift."""

import numpy as np
import pytest

import xaihub
from xaihub.core.cache import RunCache
from xaihub.core.quickshift_torch import quickshift_torch
from xaihub.core.superpixels import segment
from xaihub.ground_truth import demo
from xaihub_native.kernelshap import shapley_weights
from xaihub_native.surrogate import fit_weighted_ridge, fit_weighted_ridge_torch

torch = pytest.importorskip("torch")


def test_torch_quickshift_matches_scikit_image():
    metrics = pytest.importorskip("sklearn.metrics")
    image, _ = demo.demo_image(size=64)
    ours = quickshift_torch(image, 4, 200, 0.2, seed=3, device="cpu")
    theirs = segment(image, "quickshift", {}, seed=3)
    assert metrics.adjusted_rand_score(theirs.ravel(), ours.ravel()) >= 0.95
    np.testing.assert_array_equal(ours, theirs)  # in practice identical, ids included


@pytest.mark.parametrize("algorithm", ["slic", "felzenszwalb"])
def test_other_segmentations(algorithm):
    image, mask = demo.demo_image()
    segments = segment(image, algorithm, {}, seed=0)
    assert segments.shape == image.shape[:2] and segments.min() == 0
    assert len(np.unique(segments)) == segments.max() + 1 > 5


def test_segmentation_is_cached_per_call():
    cache = RunCache()
    image, _ = demo.demo_image(size=64)
    first = segment(image, "quickshift", {"kernel_size": 4}, 0, cache)
    again = segment(image, "quickshift", {"kernel_size": 4}, 0, cache)
    assert first is again and cache.hits["segments"] == 1
    segment(image, "quickshift", {"kernel_size": 3}, 0, cache)
    assert cache.hits["segments"] == 1


def test_device_surrogate_matches_host_surrogate():
    rng = np.random.default_rng(0)
    masks = rng.binomial(1, 0.5, (200, 15)).astype(np.uint8)
    predictions, weights = rng.random((200, 4)), rng.random(200)
    host = fit_weighted_ridge(masks, predictions, weights, 1.0)
    device = fit_weighted_ridge_torch(torch.from_numpy(masks), torch.from_numpy(predictions),
                                      torch.from_numpy(weights), 1.0)
    np.testing.assert_allclose(device.coef, host.coef, atol=1e-10)
    np.testing.assert_allclose(device.intercept, host.intercept, atol=1e-10)
    np.testing.assert_allclose(device.r2, host.r2, atol=1e-10)


def test_on_device_path_gives_the_host_path_weights(torch_model, object_image):
    image = object_image[0]
    run = lambda where: xaihub.explain(torch_model, image, methods=["native.lime"], targets="top-3", params={
        "native.lime": {"perturb_on": where, "num_samples": 100, "autocast": None}})
    host, device = run("host"), run("device")
    for h, d in zip(host, device):
        assert h.target == d.target and d.extras["perturbed_on"] == "device"
        np.testing.assert_allclose(d.segment_weights, h.segment_weights, atol=1e-4)
        assert d.forward_passes == h.forward_passes == 100


def test_autocast_is_recorded_and_close(torch_model, object_image):
    image, mask, label = object_image
    result = xaihub.explain(torch_model, image, methods=["native.lime"], targets=label,
                            params={"native.lime": {"autocast": "bf16", "num_samples": 100}})
    reference = xaihub.explain(torch_model, image, methods=["native.lime"], targets=label,
                               params={"native.lime": {"num_samples": 100, "autocast": None}})
    fast, exact = result.get("native.lime"), reference.get("native.lime")
    assert fast.params["autocast"] == "bf16" and fast.extras["perturbed_on"] == "device"
    assert fast.extras["autocast"] == "bf16" and exact.extras["autocast"] is None
    assert np.corrcoef(fast.segment_weights, exact.segment_weights)[0, 1] > 0.95


def test_autocast_auto_is_guarded_on_the_unperturbed_image(torch_model, object_image, monkeypatch):
    from xaihub.models import torch_adapter

    image, mask, label = object_image
    params = {"native.lime": {"num_samples": 60}}
    chosen = xaihub.explain(torch_model, image, methods=["native.lime"], targets=label, params=params)
    explanation = chosen.get("native.lime")
    guard = explanation.extras["autocast_guard"]
    if isinstance(guard, str):  # this CPU has no native bf16
        assert explanation.extras["autocast"] is None
    else:
        assert explanation.extras["autocast"] == ("bf16" if guard["top5_kept"] and guard["max_difference"] <= 0.02
                                                  else None)
        assert explanation.forward_passes == 60 + 2  # the guard scores the image in fp32 and in bf16
        monkeypatch.setattr(torch_adapter, "GUARD_TOLERANCE", -1.0)  # no bf16 result can pass now
        refused = xaihub.explain(torch_model, image, methods=["native.lime"], targets=label, params=params)
        assert refused.get("native.lime").extras["autocast"] is None


def test_lime_and_kernelshap_share_one_perturbation_budget(torch_model, object_image):
    image, mask, label = object_image
    fixed = {"num_samples": 150, "autocast": None}
    both = xaihub.explain(torch_model, image, methods=["native.lime", "native.kernelshap"], targets="top-5",
                          params={"native.lime": fixed, "native.kernelshap": fixed})
    alone = xaihub.explain(torch_model, image, methods=["native.kernelshap"], targets="top-5",
                           params={"native.kernelshap": fixed})
    assert both.forward_passes == {"native.lime": 150, "native.kernelshap": 151}  # each one's cost alone
    assert both.reused_forward_passes == {"native.lime": 0, "native.kernelshap": 150}  # so it spent 1
    assert alone.forward_passes == {"native.kernelshap": 151}
    for shared, unshared in zip(both.by_method("native.kernelshap"), alone):
        np.testing.assert_allclose(shared.segment_weights, unshared.segment_weights, atol=1e-12)
    disc = both.get("native.kernelshap", label)
    assert disc.attribution[mask].mean() > 5 * max(disc.attribution[~mask].mean(), 1e-9)


def test_kernelshap_is_exact_for_an_additive_model():
    rng = np.random.default_rng(0)
    players = 6
    contributions = rng.normal(size=(2, players))
    masks = np.vstack([np.ones(players), rng.binomial(1, 0.5, (300, players))])
    predictions = masks @ contributions.T + [0.3, -0.1]
    values = shapley_weights(masks, predictions, np.array([0.3, -0.1]))
    np.testing.assert_allclose(values, contributions, atol=1e-10)


def test_kernelshap_matches_shap_on_a_nonadditive_game():
    shap = pytest.importorskip("shap")
    players = 5
    all_masks = np.array([[(i >> j) & 1 for j in range(players)] for i in range(2**players)], float)

    def game(z):
        return np.stack([z[:, 0] * z[:, 1] + 0.5 * z[:, 2] - 0.2 * z[:, 3] * z[:, 4] * z[:, 0]], axis=1)

    masks = np.vstack([np.ones(players), all_masks])
    ours = shapley_weights(masks, game(masks), game(np.zeros((1, players)))[0])
    explainer = shap.KernelExplainer(game, np.zeros((1, players)))
    theirs = explainer.shap_values(np.ones((1, players)), nsamples=2**players, silent=True)
    np.testing.assert_allclose(ours[0], np.asarray(theirs).reshape(-1)[:players], atol=1e-6)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
def test_cuda_quickshift_matches_scikit_image():
    from skimage import data
    from skimage.transform import resize

    image = (resize(data.coffee(), (224, 224)) * 255).astype(np.uint8)
    np.testing.assert_array_equal(quickshift_torch(image, 4, 200, 0.2, 0, torch.device("cuda")),
                                  segment(image, "quickshift", {}, seed=0))


@cuda
def test_cuda_model_perturbs_on_the_gpu_with_the_host_weights(torch_model, object_image):
    import copy

    model = copy.deepcopy(torch_model).cuda()
    run = lambda where: xaihub.explain(model, object_image[0], methods=["native.lime", "native.kernelshap"],
                                       targets="top-2", params={m: {"perturb_on": where}
                                                                for m in ("native.lime", "native.kernelshap")})
    gpu, host = run("auto"), run("host")
    for g, h in zip(gpu, host):
        assert g.extras["perturbed_on"] == "device" and h.extras["perturbed_on"] == "host"
        np.testing.assert_allclose(g.segment_weights, h.segment_weights, atol=1e-4)


def test_a_model_that_shrinks_the_image_is_perturbed_at_its_own_size_with_the_same_result(torch_model, object_image):
    image = object_image[0]  # 128×128, seen by the model at 96×96
    preprocess = xaihub.Preprocess(size=96)
    run = lambda where: xaihub.explain(torch_model, image, methods=["native.lime"], targets="top-2",
                                       preprocess=preprocess, params={"native.lime": {
                                           "perturb_on": where, "num_samples": 80, "autocast": None}})
    host, device = run("host"), run("device")
    for h, d in zip(host, device):
        assert d.extras["perturbed_on"] == "device" and h.extras["perturbed_on"] == "host"
        np.testing.assert_allclose(d.segment_weights, h.segment_weights, atol=1e-5)
