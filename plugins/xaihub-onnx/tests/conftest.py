"""The models the ONNX tests explain: a small torch CNN with random weights, and its exports by
``torch.onnx.export`` (any batch, a fixed batch of 1, channels last)."""

from __future__ import annotations

import warnings

import pytest

SIZE = 32
CLASSES = 5


@pytest.fixture(scope="session")
def cnn():
    """conv-relu-pool-conv-relu-pool-linear on 32×32 images, random weights; the last layer is scaled
    so that the top class gets a clear probability (a near-uniform output would hide disagreements)."""
    torch = pytest.importorskip("torch")

    class SmallCnn(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = torch.nn.Sequential(
                torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(4))
            self.classifier = torch.nn.Linear(16 * 4 * 4, CLASSES)

        def forward(self, x):
            return self.classifier(torch.flatten(self.features(x), 1))

    torch.manual_seed(0)
    net = SmallCnn().eval()
    with torch.no_grad():
        net.classifier.weight.mul_(20)
    return net


@pytest.fixture(scope="session")
def onnx_files(cnn, tmp_path_factory) -> dict:
    """``{"dynamic": N×3×32×32 any N, "batch1": 1×3×32×32, "nhwc": N×32×32×3 any N}``, paths of the
    CNN exported by torch's default (dynamo) exporter, weights in a ``.data`` file beside each."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript", reason="torch.onnx.export needs onnxscript")

    class ChannelsLast(torch.nn.Module):
        def __init__(self, net) -> None:
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x.permute(0, 3, 1, 2))

    folder = tmp_path_factory.mktemp("onnx")
    any_batch = {"x": {0: torch.export.Dim("batch")}}
    exports = {
        "dynamic": (cnn, torch.zeros(2, 3, SIZE, SIZE), any_batch),
        "batch1": (cnn, torch.zeros(1, 3, SIZE, SIZE), None),
        "nhwc": (ChannelsLast(cnn).eval(), torch.zeros(2, SIZE, SIZE, 3), any_batch),
    }
    paths = {}
    for name, (module, example, dynamic) in exports.items():
        paths[name] = folder / f"{name}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.export's internals, not ours
            torch.onnx.export(module, (example,), paths[name], dynamic_shapes=dynamic, verbose=False)
    return paths
