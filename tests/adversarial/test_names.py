"""Image ids → folder names: injective, bounded, one path component each, for any id at all."""

import os

from adversarial.cases import IMAGES, assert_trustworthy, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xaihub.run.run_directory import explanation_file, file_name, read_index

ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=300)
"""Every code point, lone surrogates included (file names that are not UTF-8 decode to them)."""
LOOK_ALIKES = st.lists(st.sampled_from("aA/_\\.~- é\0"), max_size=12).map("".join)
"""Short ids that sanitise to the same few names: where collisions would be."""


@settings(max_examples=400, deadline=None)
@given(st.lists(ANY_TEXT | LOOK_ALIKES, min_size=2, max_size=30, unique=True))
def test_distinct_ids_get_distinct_names_even_ignoring_case(ids):
    names = [file_name(i) for i in ids]
    assert len({n.lower() for n in names}) == len(ids)  # case-insensitive file systems too


@settings(max_examples=400, deadline=None)
@given(ANY_TEXT | LOOK_ALIKES)
def test_every_name_is_one_safe_component_under_the_length_limit(image_id):
    name = file_name(image_id)
    assert 0 < len(name.encode()) <= 100 and name not in (".", "..") and not name.startswith(".")
    assert "/" not in name and "\\" not in name and "\0" not in name and name.isascii()
    parts = explanation_file(image_id, "native.lime", 3).split("/")
    assert len(parts) == 3 and parts[1] == name and len(parts[2].encode()) <= 255


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(ANY_TEXT | LOOK_ALIKES, min_size=2, max_size=4, unique=True))
def test_a_run_keeps_every_image_apart_and_resumes_to_nothing(tmp_path_factory, ids):
    out = tmp_path_factory.mktemp("ids")
    images = dict(zip(ids, IMAGES))
    first = run(images, out)
    assert (first.done, first.failed) == (2 * len(ids), 0)
    assert_trustworthy(out, ids)
    assert {line["image"] for line in read_index(out)} == set(ids)
    again = run(images, out)
    assert (again.done, again.skipped) == (0, 2 * len(ids))


def test_the_reported_collisions_and_long_names(tmp_path):
    colliding = {"a/b": IMAGES[0], "a_b": IMAGES[1], "a_b~" + file_name("a/b").split("~")[1]: IMAGES[2],
                 "A_B": IMAGES[3], "x" * 300: IMAGES[4], "x" * 299 + "y": IMAGES[5]}
    assert run(colliding, tmp_path).done == 12
    assert_trustworthy(tmp_path, colliding)
    assert run(colliding, tmp_path).skipped == 12


def test_long_file_names_in_a_folder(tmp_path):
    from PIL import Image

    (tmp_path / "photos").mkdir()
    names = ["p" * 250 + ".png", "Q" * 251 + ".png"]
    for name, image in zip(names, IMAGES):
        Image.fromarray(image).save(tmp_path / "photos" / name)
    assert run(tmp_path / "photos", tmp_path / "run").done == 4
    assert_trustworthy(tmp_path / "run", [os.path.splitext(n)[0] for n in names])
