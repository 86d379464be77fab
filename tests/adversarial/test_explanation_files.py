"""Explanation files from others: any corruption is an InputError, read within bounded memory."""

import io
import json
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xaihub import Explanation, InputError
from xaihub.core.explanation import MAX_FILE_BYTES


def explanation(**changes) -> Explanation:
    rng = np.random.default_rng(0)
    segments = np.repeat(np.arange(4), 16).reshape(8, 8).astype(np.int32)
    values = dict(target=1, attribution=rng.normal(size=(8, 8)).astype(np.float32), method="x.y",
                  image=rng.integers(0, 256, (8, 8, 3), dtype=np.uint8),
                  channels=rng.normal(size=(8, 8, 3)).astype(np.float32), segments=segments,
                  segment_weights=np.array([0.5, -1.0, 2.0, 0.0], np.float32), score=0.25, seconds=1.5,
                  forward_passes=7, metrics={"deletion": 0.1})
    return Explanation(**{**values, **changes})


def saved(value: Explanation) -> bytes:
    buffer = io.BytesIO()
    value.save(buffer)
    return buffer.getvalue()


def npz(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npy_header(shape, descr="<f4") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


GOOD = saved(explanation())
META = zipfile.ZipFile(io.BytesIO(GOOD)).read("meta.npy")


def load(data: bytes) -> Explanation:
    return Explanation.load(io.BytesIO(data))


def test_a_good_file_loads():
    loaded = load(GOOD)
    np.testing.assert_array_equal(loaded.attribution, explanation().attribution)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_random_corruption_is_refused_or_harmless(data):
    damaged = bytearray(GOOD)
    for _ in range(data.draw(st.integers(1, 8))):
        if not damaged:
            break
        kind = data.draw(st.sampled_from(["flip", "cut", "insert", "zero-run"]))
        at = data.draw(st.integers(0, max(0, len(damaged) - 1)))
        if kind == "flip":
            damaged[at] ^= data.draw(st.integers(1, 255))
        elif kind == "cut":
            del damaged[at:]
        elif kind == "insert":
            damaged[at:at] = data.draw(st.binary(min_size=1, max_size=64))
        else:
            damaged[at:at + 32] = bytes(32)
    try:
        loaded = load(bytes(damaged))
    except InputError:
        return
    assert loaded.attribution.ndim == 2 and np.all(np.isfinite(loaded.attribution))  # a survivor is valid
    assert loaded.image is None or loaded.image.dtype == np.uint8


@pytest.mark.parametrize("members, message", [
    ({"meta.npy": META, "attribution.npy": npy_header((200_000, 200_000))}, "at most 16777216 pixels"),  # 160 GB
    ({"meta.npy": META, "attribution.npy": npy_header((8, 8)), "channels.npy": npy_header((8, 8, 10**9))},
     "does not fit"),
    ({"meta.npy": META, "attribution.npy": npy_header((4096, 4096), "<f8"),
      "channels.npy": npy_header((4096, 4096, 16), "<f4")}, "over the"),  # 1.1 GB declared
    ({"meta.npy": npy_header((), "<U100000000"), "attribution.npy": npy_header((8, 8))}, "one string"),
    ({"meta.npy": META, "attribution.npy": npy_header((8, 8), "|O")}, "not numbers"),
    ({"meta.npy": META, "attribution.npy": npy_header((8, 8), "<c16")}, "not numbers"),
    ({"meta.npy": META, "attribution.npy": npy(np.zeros((8, 8), np.float32)), "image.npy": npy_header((9, 8, 3))},
     "does not fit"),
    ({"meta.npy": META}, "no meta or no attribution"),
    ({f"x{i}.npy": b"" for i in range(40)}, "members"),
])
def test_declared_sizes_are_refused_before_any_allocation(members, message):
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match=message):
            load(npz(members))
        assert tracemalloc.get_traced_memory()[1] < 20 * 2**20
    finally:
        tracemalloc.stop()


def test_a_small_file_that_inflates_is_bounded():
    """1 MB on disk, 1.1 GB when inflated: refused from its header, never inflated."""
    zeros = npy_header((4096, 4096, 16), "<f4")
    bomb = npz({"meta.npy": META, "attribution.npy": npy(np.zeros((4096, 4096), np.float32)),
                "channels.npy": zeros + bytes(4096 * 4096 * 16 * 4 // 64)})
    assert len(bomb) < 2 * 2**20
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="over the"):
            load(bomb)
        assert tracemalloc.get_traced_memory()[1] < 100 * 2**20
    finally:
        tracemalloc.stop()


def test_oversized_files_and_zip_directories_are_refused_unread(tmp_path):
    big = tmp_path / "big.npz"
    with open(big, "wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(InputError, match="over the"):
        Explanation.load(big)
    names = {f"{i:05d}.npy": b"" for i in range(2000)}
    with pytest.raises(InputError, match="members"):
        load(npz(names, zipfile.ZIP_STORED))


def meta_with(**changes) -> bytes:
    meta = json.loads(str(np.load(io.BytesIO(META))))
    return npy(np.array(json.dumps({**meta, **changes})))


@pytest.mark.parametrize("arrays, meta, message", [
    ({"attribution": np.full((8, 8), np.nan, np.float32)}, {}, "NaN"),
    ({"attribution": np.zeros((8, 8)), "image": np.full((8, 8, 3), 1000)}, {}, r"\[0, 255\]"),
    ({"attribution": np.zeros((8, 8)), "image": np.full((8, 8, 3), -1.0)}, {}, r"\[0, 255\]"),
    ({"attribution": np.zeros((8, 8)), "channels": np.full((8, 8, 3), np.inf)}, {}, "NaN or infinite"),
    ({"attribution": np.zeros((8, 8)), "segments": -np.ones((8, 8), np.int32),
      "segment_weights": np.zeros(2)}, {}, "non-negative"),
    ({"attribution": np.zeros((8, 8)), "segments": np.zeros((8, 8)), "segment_weights": np.zeros(2)}, {},
     "non-negative integers"),
    ({"attribution": np.zeros((8, 8))}, {"score": "high"}, "score"),
    ({"attribution": np.zeros((8, 8))}, {"score": True}, "score"),
    ({"attribution": np.zeros((8, 8))}, {"target": "1"}, "target"),
    ({"attribution": np.zeros((8, 8))}, {"target": -1}, "target"),
    ({"attribution": np.zeros((8, 8))}, {"target": 1.0}, "target"),
    ({"attribution": np.zeros((8, 8))}, {"seconds": -1}, "seconds"),
    ({"attribution": np.zeros((8, 8))}, {"seconds": [1]}, "seconds"),
    ({"attribution": np.zeros((8, 8))}, {"forward_passes": 1.5}, "forward_passes"),
    ({"attribution": np.zeros((8, 8))}, {"metrics": {"deletion": "good"}}, "metrics"),
    ({"attribution": np.zeros((8, 8))}, {"extras": []}, "extras"),
    ({"attribution": np.zeros((8, 8))}, {"label": 3}, "label"),
    ({"attribution": np.zeros((8, 8))}, {"format_version": 99}, "format version"),
])
def test_values_are_checked_not_only_shapes(arrays, meta, message):
    members = {"meta.npy": meta_with(**meta)} | {f"{k}.npy": npy(v) for k, v in arrays.items()}
    with pytest.raises(InputError, match=message):
        load(npz(members))


def test_encrypted_members_and_negative_sizes_are_refused():
    encrypted = bytearray(GOOD)
    for signature, flags in ((b"PK\x01\x02", 8), (b"PK\x03\x04", 6)):  # the "encrypted" bit of every entry
        at = encrypted.find(signature)
        while at >= 0:
            encrypted[at + flags] |= 1
            at = encrypted.find(signature, at + 1)
    with pytest.raises(InputError, match="encrypted"):
        load(bytes(encrypted))
    members = {"meta.npy": META, "attribution.npy": npy(np.zeros((8, 8))), "segment_weights.npy": npy_header((-5,))}
    with pytest.raises(InputError):
        load(npz(members))


def test_a_deeply_nested_header_is_refused():
    members = {"meta.npy": npy(np.array("[" * 100_000)), "attribution.npy": npy(np.zeros((8, 8)))}
    with pytest.raises(InputError):
        load(npz(members))


def test_an_image_of_another_dtype_comes_back_as_uint8():
    image = np.random.default_rng(1).integers(0, 256, (8, 8, 3)).astype(np.float64)
    loaded = load(saved(explanation(image=image)))
    assert loaded.image.dtype == np.uint8
    np.testing.assert_array_equal(loaded.image, image)


def test_save_refuses_what_load_would_refuse_and_names_the_missing_folder(tmp_path):
    with pytest.raises(InputError, match="NaN"):
        explanation(attribution=np.full((8, 8), np.nan, np.float32)).save(tmp_path / "e.npz")
    with pytest.raises(InputError, match="score"):
        explanation(score="high").save(tmp_path / "e.npz")
    with pytest.raises(InputError) as error:
        explanation().save(tmp_path / "missing" / "e.npz")
    assert str(tmp_path / "missing") in str(error.value) and ".tmp" not in str(error.value)
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(InputError, match="cannot write"):
        explanation().save(tmp_path / "folder.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.npz"]  # no temporary file left


def test_save_replaces_atomically_and_load_refuses_what_is_not_a_file(tmp_path):
    path = tmp_path / "e.npz"
    explanation().save(path)
    explanation(target=2).save(path)
    assert Explanation.load(path).target == 2 and sorted(p.name for p in tmp_path.iterdir()) == ["e.npz"]
    import os

    os.mkfifo(tmp_path / "fifo.npz")
    with pytest.raises(InputError, match="not a regular file"):  # and does not block waiting for a writer
        Explanation.load(tmp_path / "fifo.npz")
