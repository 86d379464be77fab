"""Hardened inputs: every odd image, model or file gives a result or a clear error, never a deep crash."""

import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xaihub
from xaihub import Explainer, Explanation, InputError, ModelError
from xaihub.run.run_directory import read_index

from toy_models import channel_means

Image = pytest.importorskip("PIL.Image")

LIME = {"native.lime": {"num_samples": 20}}
RGB = np.random.default_rng(2).integers(0, 256, (12, 14, 3), dtype=np.uint8)
GRAY = RGB[..., 0]


def explained_image(image, model=channel_means, **kwargs):
    return xaihub.explain(model, image, methods=["native.lime"], params=LIME, **kwargs).image


@pytest.mark.parametrize(
    "given, expected",
    [
        (RGB, RGB),
        (RGB / 255.0, RGB),
        (RGB.astype(np.float32), RGB),
        (np.moveaxis(RGB, -1, 0), RGB),
        (np.dstack([RGB, np.zeros((12, 14), np.uint8)]), RGB),
        (GRAY, np.dstack([GRAY] * 3)),
        (GRAY[..., None], np.dstack([GRAY] * 3)),
        (GRAY[None], np.dstack([GRAY] * 3)),
        (Image.fromarray(RGB), RGB),
        (Image.fromarray(np.dstack([RGB, np.full((12, 14), 9, np.uint8)]), "RGBA"), RGB),
        (Image.fromarray(GRAY), np.dstack([GRAY] * 3)),
        (Image.fromarray(GRAY).convert("LA"), np.dstack([GRAY] * 3)),
        (Image.fromarray(GRAY.astype(np.uint16) * 257), np.dstack([GRAY] * 3)),
        (Image.fromarray(RGB).quantize(colors=256, dither=Image.Dither.NONE).convert("RGB"), None),
    ],
    ids=["uint8", "float01", "float255", "channels-first", "rgba", "gray", "gray1", "gray-channels-first",
         "pil-rgb", "pil-rgba", "pil-l", "pil-la", "pil-i16", "pil-quantized"],
)
def test_accepted_forms_are_explained_as_rgb_uint8(given, expected):
    image = explained_image(given)
    assert image.dtype == np.uint8 and image.shape == (12, 14, 3)
    if expected is not None:
        np.testing.assert_array_equal(image, expected)


def test_palette_images_are_converted_by_pil():
    palette = Image.fromarray(RGB).quantize(colors=16)
    assert palette.mode == "P"
    np.testing.assert_array_equal(explained_image(palette), np.asarray(palette.convert("RGB")))
    assert Image.fromarray(GRAY.astype(np.uint16) * 257).mode.startswith("I;16")


def test_paths_of_every_mode_are_read(tmp_path):
    Image.fromarray(RGB).quantize(colors=16).save(tmp_path / "palette.png")
    Image.fromarray(GRAY.astype(np.uint16) * 257).save(tmp_path / "deep.png")
    Image.fromarray(RGB).save(tmp_path / "plain.bmp")
    np.testing.assert_array_equal(explained_image(tmp_path / "deep.png"), np.dstack([GRAY] * 3))
    np.testing.assert_array_equal(explained_image(tmp_path / "plain.bmp"), RGB)
    assert explained_image(str(tmp_path / "palette.png")).shape == (12, 14, 3)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(InputError, match="cannot read image file"):
        explained_image(tmp_path / "broken.png")


@pytest.mark.parametrize(
    "given, message",
    [
        (np.full((12, 12, 3), np.nan), "NaN"),
        (np.full((12, 12, 3), np.inf), "NaN or infinite"),
        (np.zeros((0, 12, 3)), "empty"),
        (np.zeros((1, 1, 3)), "at least 8"),
        (np.zeros((1, 1)), "at least 8"),
        (np.full((12, 12, 3), 256.0), r"\[0, 1\] or \[0, 255\]"),
        (np.broadcast_to(np.uint8(0), (8000, 8000, 3)), "over the 16777216-pixel limit"),
        (np.zeros((2, 12, 12, 3)), "explain_many"),
        ([[1, 2], [3]], "cannot read an image|dtype"),
        (np.zeros((12, 12, 3), complex), "dtype"),
    ],
    ids=["nan", "inf", "empty", "1x1", "1x1-gray", "over-255", "huge", "batch", "ragged", "complex"],
)
def test_unusable_images_are_refused_through_explain(given, message):
    with pytest.raises(InputError, match=message):
        xaihub.explain(channel_means, given, methods=["native.lime"], params=LIME)


def test_huge_image_files_are_refused_before_decoding(tmp_path):
    Image.new("L", (4100, 4100)).save(tmp_path / "huge.png")
    with pytest.raises(InputError, match="huge.png.*over the 16777216-pixel limit; resize it first"):
        xaihub.explain(channel_means, tmp_path / "huge.png", methods=["native.lime"])


def test_explain_many_takes_batches_pil_and_paths_and_records_bad_ones(tmp_path):
    Image.fromarray(RGB).save(tmp_path / "photo.png")
    images = {"channels-first": np.moveaxis(RGB, -1, 0), "pil": Image.fromarray(GRAY), "path": tmp_path / "photo.png",
              "float": RGB / 255.0, "tiny": np.zeros((1, 1, 3)), "nan": np.full((12, 12), np.nan)}
    summary = xaihub.explain_many(channel_means, images, params=LIME, out=tmp_path / "out", methods=["native.lime"])
    status = {line["image"]: line["status"] for line in read_index(tmp_path / "out")}
    assert status == {"channels-first": "ok", "pil": "ok", "path": "ok", "float": "ok", "tiny": "failed", "nan": "failed"}
    assert summary.done == 4 and summary.failed == 2
    batch = np.stack([np.moveaxis(RGB, -1, 0)] * 2)  # N×C×H×W
    assert xaihub.explain_many(channel_means, batch, params=LIME, out=tmp_path / "chw", methods=["native.lime"]).done == 2


# -- models ---------------------------------------------------------------------------------


def test_logits_and_probabilities_explain_the_same_class():
    logits = lambda b: np.log(channel_means(b) + 1e-3) * 5
    probabilities = lambda b: (channel_means(b) + 1e-3) / (channel_means(b) + 1e-3).sum(axis=1, keepdims=True)
    image = np.zeros((16, 16, 3), np.uint8)
    image[..., 1] = 200
    for model in (logits, probabilities):
        result = xaihub.explain(model, image, methods=["native.lime"], params=LIME)
        assert result.targets == [1] and result.probabilities.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("shape", ["(N,)", "(N,1)"])
def test_a_single_output_is_one_class(shape):
    def single(batch):
        score = batch.mean(axis=(1, 2, 3))  # the default preprocess scaled pixels to [0, 1]
        return score if shape == "(N,)" else score[:, None]

    result = xaihub.explain(single, RGB, methods=["native.lime"], params=LIME)
    assert result.ok and result.targets == [0] and result.probabilities == pytest.approx([RGB.mean() / 255])
    with pytest.raises(InputError, match="out of range: the model has 1 classes"):
        xaihub.explain(single, RGB, targets=1, methods=["native.lime"])


def test_labels_that_do_not_match_the_classes_are_refused():
    with pytest.raises(ModelError, match="4 labels given but the model returns 3 classes"):
        xaihub.explain(channel_means, RGB, labels=["a", "b", "c", "d"], methods=["native.lime"])


class Fixed(Explainer):
    name = "t.fixed"

    def explain(self, model, image, targets, *, seed):
        model.predict(image[None])
        return [Explanation(target=t, attribution=np.zeros(image.shape[:2])) for t in targets]


@pytest.fixture
def fixed():
    xaihub.register(Fixed())
    yield "t.fixed"
    xaihub.unregister("t.fixed")


def test_a_model_raising_on_large_batches_fails_that_method_only(fixed, tmp_path):
    def small_batches_only(batch):
        if len(batch) > 1:
            raise MemoryError("batch too large")
        return channel_means(batch)

    result = xaihub.explain(small_batches_only, RGB, methods=["native.lime", fixed], params=LIME)
    failure = result.failure("native.lime")
    assert failure.error == "ModelError" and "the model raised MemoryError: batch too large" in failure.message
    assert "batch too large" in result.failure("native.lime").message
    assert result.get(fixed).attribution.shape == (12, 14)
    summary = xaihub.explain_many(small_batches_only, [RGB, RGB], methods=["native.lime", fixed], params=LIME,
                                  out=tmp_path)
    assert (summary.done, summary.failed) == (2, 2)
    assert {(r["method"], r["status"]) for r in read_index(tmp_path)} == {("native.lime", "failed"), (fixed, "ok")}


def test_a_predict_function_returning_lists_fails_clearly(fixed):
    def ragged_when_batched(batch):
        scores = channel_means(batch)
        return [list(s) for s in scores] if len(batch) == 1 else [list(s[: 1 + i % 2]) for i, s in enumerate(scores)]

    result = xaihub.explain(ragged_when_batched, RGB, methods=["native.lime", fixed], params=LIME)
    failure = result.failure("native.lime")
    assert failure.error == "ModelError" and "model output is not an array: list" in failure.message
    assert result.get(fixed) is not None
    with pytest.raises(ModelError, match="N×K scores for N=1 images, got shape"):
        xaihub.explain(lambda b: [[1.0, 2.0]] * (len(b) + 1), RGB, methods=["native.lime"])


# -- saved explanations ---------------------------------------------------------------------


def saved(tmp_path):
    path = tmp_path / "e.npz"
    xaihub.explain(channel_means, RGB, methods=["native.lime"], params=LIME).get("native.lime").save(path)
    return path


def rewrite(path, target, **changes):
    """Copy the archive ``path`` to ``target`` with some members replaced."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(changes)
    with open(target, "wb") as fh:
        np.savez(fh, **arrays)
    return target


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"meta": np.array("{not json")}, "not a readable xaihub explanation"),
        ({"meta": np.array("[1, 2]")}, "known format version"),
        ({"attribution": np.zeros((3, 3), np.float32)}, "image has shape"),
        ({"attribution": np.zeros((12, 14, 2), np.float32)}, "expected H×W"),
        ({"segments": np.zeros((5, 5), np.int32)}, "segments has shape"),
        ({"segment_weights": np.zeros(0, np.float32)}, "segment_weights do not match"),
        ({"attribution": np.full((12, 14), "x")}, "holds <U1, not numbers"),
    ],
    ids=["header-not-json", "header-not-object", "attribution-vs-image", "attribution-3d", "segments",
         "segment-weights", "strings"],
)
def test_tampered_explanations_fail_to_load_clearly(tmp_path, changes, message):
    path = rewrite(saved(tmp_path), tmp_path / "tampered.npz", **changes)
    with pytest.raises(InputError, match=message):
        Explanation.load(path)


def test_tampered_header_fields_and_pickles_are_refused(tmp_path):
    path = saved(tmp_path)
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
    with pytest.raises(InputError, match="target is 'cat'"):
        Explanation.load(rewrite(path, tmp_path / "t.npz", meta=np.array(json.dumps({**meta, "target": "cat"}))))
    with pytest.raises(InputError, match="not a readable"):
        Explanation.load(rewrite(path, tmp_path / "p.npz", attribution=np.array([object()], dtype=object)))
    with zipfile.ZipFile(path) as archive:
        assert all(name.endswith(".npy") for name in archive.namelist())


# -- property ---------------------------------------------------------------------------------

DTYPES = st.sampled_from([np.uint8, np.uint16, np.int8, np.int32, np.float16, np.float32, np.float64, np.bool_])


@st.composite
def odd_images(draw):
    """Arrays of odd layouts, sizes, dtypes and values; some convertible, most not."""
    side = st.integers(8, 12) | st.integers(0, 12)
    h, w, c = draw(side), draw(side), draw(st.sampled_from([1, 2, 3, 4, 5]))
    shape = draw(st.sampled_from([(h, w), (h, w, c), (c, h, w), (1, h, w, c), (), (2, h, w, c), (h,)]))
    dtype = np.dtype(draw(DTYPES))
    top = draw(st.sampled_from([1, 255, 256, 70000]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = rng.uniform(0, top, shape)
    spoiler = draw(st.sampled_from([None, None, np.nan, np.inf, -1.0]))
    if spoiler is not None and values.size:
        values.flat[rng.integers(values.size)] = spoiler
    with np.errstate(invalid="ignore", over="ignore"):
        return values.astype(dtype)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image=odd_images())
def test_any_array_gives_a_comparison_or_an_input_error(image):
    try:
        result = xaihub.explain(channel_means, image, methods=["native.lime"], params={"native.lime": {"num_samples": 8}})
    except InputError:
        return
    assert isinstance(result, xaihub.Comparison) and result.image.dtype == np.uint8 and result.image.ndim == 3
    assert not result.failures, result.failures
