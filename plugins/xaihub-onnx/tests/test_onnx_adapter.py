"""The ONNX adapter: exported models give the torch original's probabilities and explanations; layouts,
types, outputs, batches, devices and bad models."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from test_all_methods import CHEAP

import xaihub
from xaihub import adapt, list_methods
from xaihub.models import ModelOptions

onnxruntime = pytest.importorskip("onnxruntime")

PREPROCESS = xaihub.Preprocess(mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
WEIGHT = np.array([[4.0, -2.0, 0.5, 1.0], [-1.0, 3.0, 0.0, 2.0], [0.5, 0.5, -3.0, 1.0]], np.float32)


def pixel_batch(count: int, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, 3), dtype=np.uint8)


def softmax(scores: np.ndarray) -> np.ndarray:
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def graph_model(nodes, inputs, outputs, weights=()):
    """An ``onnx.ModelProto`` (opset 17) from ``onnx.helper`` pieces, checked."""
    onnx = pytest.importorskip("onnx")
    from onnx import helper

    graph = helper.make_graph(nodes, "test", inputs, outputs, initializer=list(weights))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    return model


def mean_colour_model(input_shape, *, float16=False, channels_first=True, mean_output=False, input_type=None):
    """Class scores = (mean colour of the model input) @ WEIGHT: an output easy to compute by hand.
    ``mean_output`` adds the mean colour as a second output, ``"mean"``."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    kind = TensorProto.FLOAT16 if float16 else TensorProto.FLOAT
    nodes = [helper.make_node("ReduceMean", ["pixels"], ["mean"], axes=[2, 3] if channels_first else [1, 2],
                              keepdims=0),
             helper.make_node("MatMul", ["mean", "weight"], ["scores"])]
    batch = input_shape[0]
    outputs = [helper.make_tensor_value_info("scores", kind, [batch, WEIGHT.shape[1]])]
    if mean_output:
        outputs.append(helper.make_tensor_value_info("mean", kind, [batch, 3]))
    pixels = helper.make_tensor_value_info("pixels", input_type or kind, list(input_shape))
    if input_type is not None:
        nodes.insert(0, helper.make_node("Cast", ["raw"], ["pixels"], to=kind))
        pixels = helper.make_tensor_value_info("raw", input_type, list(input_shape))
    weight = numpy_helper.from_array(WEIGHT.astype(np.float16 if float16 else np.float32), "weight")
    return graph_model(nodes, [pixels], outputs, [weight])


def expected_mean_colour(batch: np.ndarray, preprocess=PREPROCESS) -> np.ndarray:
    return softmax(preprocess.numpy(batch).mean(axis=(1, 2)).astype(np.float64) @ WEIGHT)


# -- the torch original and its exports ---------------------------------------------------------------
@pytest.mark.parametrize("export", ["dynamic", "batch1", "nhwc"])
def test_probabilities_equal_the_torch_originals(cnn, onnx_files, export):
    batch = pixel_batch(7)
    original = adapt(cnn, ModelOptions(preprocess=PREPROCESS)).predict(batch)
    adapter = adapt(onnx_files[export], ModelOptions(preprocess=PREPROCESS, batch_size=4))
    probabilities = adapter.predict(batch)
    assert adapter.framework == "onnx" and adapter.output_kind == "logits"
    assert original.max() > 0.5  # the scaled last layer spreads the classes: a real comparison
    np.testing.assert_allclose(probabilities, original, rtol=0, atol=1e-4)
    assert adapter.forward_passes == 7


def test_a_fixed_batch_of_one_is_fed_one_image_at_a_time(onnx_files):
    session = onnxruntime.InferenceSession(onnx_files["batch1"], providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[0] == 1
    with pytest.raises(Exception, match="(?i)dimension"):  # the export really refuses two images
        session.run(None, {session.get_inputs()[0].name: np.zeros((2, 3, 32, 32), np.float32)})
    adapter = adapt(session)
    assert adapter.predict(pixel_batch(3)).shape == (3, 5)


def test_a_fixed_batch_of_two_gets_its_last_run_padded():
    adapter = adapt(mean_colour_model([2, 3, 8, 8]), ModelOptions(preprocess=PREPROCESS))
    batch = pixel_batch(3, size=8)
    np.testing.assert_allclose(adapter.predict(batch), expected_mean_colour(batch), atol=1e-5)
    assert adapter.forward_passes == 3


def test_path_pathlike_session_and_model_proto_agree(onnx_files):
    onnx = pytest.importorskip("onnx")
    path = onnx_files["dynamic"]
    forms = [str(path), path, onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"]), onnx.load(path)]
    batch = pixel_batch(5, seed=1)
    results = [adapt(form, ModelOptions(preprocess=PREPROCESS)).predict(batch) for form in forms]
    for result in results[1:]:
        np.testing.assert_allclose(result, results[0], rtol=0, atol=1e-6)


def test_a_file_is_opened_once_and_again_when_it_changes(tmp_path, onnx_files):
    exported = onnx_files["batch1"]
    for file in exported.parent.glob(exported.name + "*"):  # the model and its external weights (.data)
        shutil.copy(file, tmp_path)
    path = tmp_path / exported.name
    first, again = adapt(path), adapt(str(path))
    assert first.inference_session is again.inference_session
    os.utime(path, ns=(0, os.stat(path).st_mtime_ns + 10**9))
    assert adapt(path).inference_session is not first.inference_session


def test_native_lime_and_kernelshap_maps_equal_the_torch_originals(cnn, onnx_files):
    from skimage import data
    from skimage.transform import resize

    image = (resize(data.chelsea(), (64, 64)) * 255).astype(np.uint8)
    preprocess = xaihub.Preprocess(size=32, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    exact = {"autocast": None, "num_samples": 150}  # torch's bf16 path would differ from ONNX Runtime's fp32
    runs = [xaihub.explain(model, image, methods=["native.lime", "native.kernelshap"], targets="top-2",
                           preprocess=preprocess, seed=3, progress=False,
                           params={"native.lime": exact, "native.kernelshap": exact})
            for model in (cnn, str(onnx_files["dynamic"]))]
    original, exported = runs
    assert exported.targets == original.targets and not exported.failures
    np.testing.assert_allclose(exported.probabilities, original.probabilities, rtol=0, atol=1e-4)
    for explanation in original:
        twin = exported.get(explanation.method, explanation.target)
        np.testing.assert_array_equal(twin.segments, explanation.segments)
        assert np.abs(explanation.attribution).max() > 0.01
        np.testing.assert_allclose(twin.attribution, explanation.attribution, rtol=0, atol=1e-5)
        assert twin.forward_passes == explanation.forward_passes


def test_gradient_methods_are_refused_upfront_and_every_black_box_method_runs(onnx_files):
    image = pixel_batch(1, size=48, seed=2)[0]
    methods = {m.explainer.name: m.explainer for m in list_methods()}
    gradient = [name for name, e in methods.items() if e.requires.kind != xaihub.BLACK_BOX]
    black_box = [name for name, e in methods.items() if e.requires.kind == xaihub.BLACK_BOX]
    assert "gradients.saliency" in gradient and {"native.lime", "lime.image", "shap.partition"} <= set(black_box)
    params = {name: CHEAP[name] for name in black_box if name in CHEAP}
    result = xaihub.explain(onnx_files["dynamic"], image, methods=gradient + black_box, targets="top-2",
                            params=params, progress=False)
    assert {f.method for f in result.failures} == set(gradient)
    for name in gradient:
        failure = result.failure(name)
        assert failure.error == "MethodUnavailableError" and "'onnx' model" in failure.message
        assert result.forward_passes.get(name, 0) == 0
    assert {e.method for e in result} == set(black_box)
    for explanation in result:
        assert explanation.attribution.shape == (48, 48) and np.isfinite(explanation.attribution).all()
    assert "images of another size are resized" in " ".join(result.notes)
    with pytest.raises(xaihub.MethodUnavailableError, match="onnx"):
        xaihub.explain(onnx_files["dynamic"], image, methods=["native.lime"], metrics=["sanity.randomization"])


# -- input layout, type, size and preprocessing --------------------------------------------------------
def test_channels_last_float16_model_of_any_size():
    model = mean_colour_model(["n", "height", "width", 3], float16=True, channels_first=False)
    adapter = adapt(model, ModelOptions(preprocess=PREPROCESS))
    batch = pixel_batch(4, size=24)
    np.testing.assert_allclose(adapter.predict(batch), expected_mean_colour(batch), atol=5e-3)
    assert adapter.predict(pixel_batch(2, size=40)).shape == (2, 4)  # free height and width: any size goes


def test_a_fixed_input_size_resizes_images_unless_the_preprocess_disagrees(cnn, onnx_files):
    batch = pixel_batch(3, size=48)
    sized = xaihub.Preprocess(size=32, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    original = adapt(cnn, ModelOptions(preprocess=sized)).predict(batch)
    adapter = adapt(onnx_files["nhwc"], ModelOptions(preprocess=PREPROCESS))
    np.testing.assert_allclose(adapter.predict(batch), original, rtol=0, atol=1e-4)
    assert adapter.notes == ["the ONNX model takes 32×32 inputs; images of another size are resized to it"]
    with pytest.raises(xaihub.InputError, match="resizes images to 28×28, but the ONNX model takes 32×32"):
        adapt(onnx_files["nhwc"], ModelOptions(preprocess=xaihub.Preprocess(size=28)))


def test_a_preprocess_function_is_fed_as_it_is_after_the_layout_transpose(cnn, onnx_files):
    from xaihub_onnx.adapter import OnnxAdapter

    batch = pixel_batch(4)
    expected = adapt(cnn, ModelOptions(preprocess=PREPROCESS)).predict(batch)
    channels_last = PREPROCESS.numpy  # N×H×W×C, as a preprocess function returns by default
    for export in ("dynamic", "nhwc"):
        adapter = adapt(onnx_files[export], ModelOptions(preprocess=channels_last))
        np.testing.assert_allclose(adapter.predict(batch), expected, rtol=0, atol=1e-4)
    channels_first = OnnxAdapter(onnx_files["dynamic"], ModelOptions(
        preprocess=lambda images: PREPROCESS.numpy(images).transpose(0, 3, 1, 2), channels_first=False))
    np.testing.assert_allclose(channels_first.predict(batch), expected, rtol=0, atol=1e-4)


def test_an_integer_input_needs_a_preprocess_function():
    from onnx import TensorProto

    model = mean_colour_model(["n", 3, 8, 8], input_type=TensorProto.UINT8)
    with pytest.raises(xaihub.ModelError, match="takes uint8 input, but an xaihub.Preprocess makes float"):
        adapt(model)
    adapter = adapt(model, ModelOptions(preprocess=lambda images: images.astype(np.uint8)))
    batch = pixel_batch(2, size=8)
    np.testing.assert_allclose(adapter.predict(batch), expected_mean_colour(batch, xaihub.Preprocess(scale=1.0)),
                               atol=1e-5)


def test_input_shapes_xaihub_cannot_feed_an_image_to_are_refused():
    from onnx import TensorProto, helper

    def value(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)

    two_inputs = graph_model([helper.make_node("Add", ["a", "b"], ["sum"])], [value("a", ["n", 4]),
                             value("b", ["n", 4])], [value("sum", ["n", 4])])
    with pytest.raises(xaihub.ModelError, match=r"has 2 inputs \['a', 'b'\]"):
        adapt(two_inputs)
    flat = graph_model([helper.make_node("Identity", ["x"], ["y"])], [value("x", ["n", 12])], [value("y", ["n", 12])])
    with pytest.raises(xaihub.ModelError, match=r"input 'x' has shape \['n', 12\]; xaihub feeds image batches"):
        adapt(flat)



def test_a_grey_scale_model_gets_the_luminance_through_a_declared_preprocess():
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    def value(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)

    grey = graph_model([helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=0),
                        helper.make_node("Concat", ["y", "y"], ["z"], axis=1)],
                       [value("x", ["n", 1, 8, 8])], [value("z", ["n", 2])])
    batch = pixel_batch(2, size=8)
    luminance = batch.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    adapter = adapt(grey)  # channels inferred from the input shape; the default scale repeated
    np.testing.assert_allclose(adapter.options.declared.numpy(batch)[..., 0], luminance / 255, rtol=1e-5)
    assert adapter.predict(batch).shape == (2, 2)
    with pytest.raises(xaihub.InputError, match=r"takes 1 channel\(s\), but the Preprocess has 3 per-channel values"
                                                r".*Preprocess\(channels=1, \.\.\.\)"):
        adapt(grey, ModelOptions(preprocess=PREPROCESS))
    with pytest.raises(xaihub.InputError, match=r"makes 3: pass xaihub.Preprocess\(channels=1"):
        adapt(grey, ModelOptions(preprocess=xaihub.Preprocess(channels=3)))


def test_an_input_shape_that_does_not_say_where_the_channels_are_is_noted():
    adapter = adapt(mean_colour_model(["n", "c", "h", "w"]), ModelOptions(preprocess=PREPROCESS))
    batch = pixel_batch(2, size=8)
    np.testing.assert_allclose(adapter.predict(batch), expected_mean_colour(batch), atol=1e-5)
    assert "does not say where the channels are; it is fed N×C×H×W" in adapter.notes[0]


# -- outputs --------------------------------------------------------------------------------------------
def test_the_output_is_chosen_by_position_or_name():
    model = mean_colour_model(["n", 3, "h", "w"], mean_output=True)
    batch = pixel_batch(2, size=8)
    first = adapt(model, ModelOptions(preprocess=PREPROCESS))
    np.testing.assert_allclose(first.predict(batch), expected_mean_colour(batch), atol=1e-5)
    assert "has 2 outputs ['scores', 'mean']; explaining the first" in first.notes[0]
    for index in (1, "mean", -1):
        chosen = adapt(model, ModelOptions(output_index=index, output="probabilities"))
        np.testing.assert_allclose(chosen.predict(batch), batch.mean(axis=(1, 2)) / 255, atol=1e-5)
        assert chosen.num_classes == 3 and chosen.notes == []
    with pytest.raises(xaihub.InputError, match=r"output_index='logits', but the ONNX model's outputs are"):
        adapt(model, ModelOptions(output_index="logits"))
    with pytest.raises(xaihub.InputError, match="output_index=2, but the ONNX model has 2 outputs"):
        adapt(model, ModelOptions(output_index=2))


# -- devices, bad files, detection ----------------------------------------------------------------------
def test_devices(onnx_files):
    session = onnxruntime.InferenceSession(onnx_files["batch1"], providers=["CPUExecutionProvider"])
    assert adapt(session, ModelOptions(device="cpu")).inference_session is session
    with pytest.raises(xaihub.InputError, match="runs on 'cpu' or 'cuda'"):
        adapt(onnx_files["batch1"], ModelOptions(device="tpu"))
    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        cuda = adapt(onnx_files["batch1"], ModelOptions(device="cuda"))
        assert cuda.inference_session.get_providers()[0] == "CUDAExecutionProvider"
        with pytest.raises(xaihub.InputError, match="this InferenceSession runs on CPUExecutionProvider"):
            adapt(session, ModelOptions(device="cuda"))
    else:
        with pytest.raises(xaihub.InputError, match="has no CUDAExecutionProvider.*install onnxruntime-gpu"):
            adapt(onnx_files["batch1"], ModelOptions(device="cuda"))


def test_bad_files_are_refused_clearly(tmp_path):
    from xaihub_onnx.adapter import OnnxAdapter

    with pytest.raises(xaihub.InputError, match="ONNX model file '.*missing.onnx' does not exist"):
        adapt(str(tmp_path / "missing.onnx"))
    (tmp_path / "text.onnx").write_text("not a model")
    with pytest.raises(xaihub.ModelError, match="cannot load ONNX model file '.*text.onnx' with ONNX Runtime"):
        adapt(tmp_path / "text.onnx")
    with pytest.raises(xaihub.ModelError, match="don't know how to run a builtins.str"):
        adapt(str(tmp_path / "model.txt"))  # only a .onnx path is taken for an ONNX model
    with pytest.raises(xaihub.ModelError, match="OnnxAdapter takes a .onnx path"):
        OnnxAdapter(42)


def test_recognising_models_imports_no_onnx_library():
    code = ("import sys, xaihub\n"
            "from xaihub.registry.plugins import _plugin_manager\n"
            "from xaihub_onnx.recognise import is_onnx_model\n"
            "_plugin_manager()\n"
            "xaihub.explain(lambda b: b.mean(axis=(1, 2)), [[[0, 0, 9]] * 8] * 8, methods=['baseline.centre'])\n"
            "assert is_onnx_model('m.ONNX') and not is_onnx_model('m.pt') and not is_onnx_model(3)\n"
            "print(sorted(m for m in ('onnx', 'onnxruntime', 'onnxscript') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
