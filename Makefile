# Two commands set everything up: `make demo` and `make test`. Both install into .venv
# with the pinned stack in constraints.txt (passed to every pip call).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt
PLUGINS := $(sort $(dir $(wildcard plugins/*/pyproject.toml)))
# A plugin whose tests need more than it runs on declares a `test` extra (xaihub-onnx: the ONNX exporter).
PLUGIN_SPECS := $(foreach p,$(PLUGINS),$(if $(shell grep -s '^test *=' $(p)pyproject.toml),'$(p)[test]',$(p)))
# Installed without their declared dependencies: OmniXAI 1.3.1 pins numpy<1.24,
# scikit-learn<1.2 and pillow<10, yet runs on the modern stack (see plugins/xaihub-omnixai).
NO_DEPS := $(shell cat requirements-nodeps.txt 2>/dev/null)
# The frameworks whose models the demo and the tests explain (versions in constraints.txt).
FRAMEWORKS := torch tensorflow-cpu
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo-output

.PHONY: install demo demo-all lint test test-slow test-all test-py dist bench browser docs clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt requirements-nodeps.txt $(wildcard plugins/*/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) $(FRAMEWORKS) -e ".[test,dask,imagenet,docs]" $(addprefix -e ,$(PLUGIN_SPECS))
	$(if $(NO_DEPS),$(PIP) --no-deps $(NO_DEPS))
	touch $@

# One method per family on two photos in minutes; `make demo ARGS=--all` (or `make demo-all`): every method.
demo: install
	$(PY) examples/demo.py --out $(DEMO_OUT) $(ARGS)

demo-all: install
	$(PY) examples/demo.py --out $(DEMO_OUT) --all $(ARGS)

# Headless Chromium for the report test, from Debian's package, when missing.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

LINTED := xaihub plugins tests benchmarks examples scripts docs conftest.py

lint: install
	$(PY) -m ruff check $(LINTED)

# `make test`: every test but the slow real-model end-to-end runs (marked `slow`), in minutes;
# `make test-slow` runs those, `make test-all` both (what CI runs: .ci/run).
test: install browser lint
	$(PY) -m pytest -m "not slow" --durations=15

test-slow: install browser
	$(PY) -m pytest -m slow --durations=15

test-all: install browser lint
	$(PY) -m pytest --durations=15

# Wheels of the core and of every plugin into dist/, which the core's extras name at the same version:
# pip install --find-links dist "xaihub[captum,imagenet]" (docs/howto/install.md). Built with .venv's setuptools,
# after removing the build/ folders (setuptools would ship a module deleted since the last build).
dist: install
	rm -rf dist build $(addsuffix build,$(PLUGINS))
	$(PY) -m pip wheel --disable-pip-version-check -q --no-deps --no-build-isolation -w dist . $(PLUGINS)

# The wheels installed into a fresh virtual environment of another Python, and a short explain there without
# torch (tests/test_wheels.py; `make test-slow` runs 3.13): `make test-py PY_VERSION=3.12`. 3.11 adds the quickstart.
PY_VERSION ?= 3.12
test-py: install
	XAIHUB_TEST_PYTHONS=$(PY_VERSION) $(PY) -m pytest tests/test_wheels.py -m slow -k "py$(subst .,,$(PY_VERSION))" --durations=5

# The real model against the forward bound, and memory; `make bench ARGS="--methods all"` times every method.
bench: install
	$(PY) benchmarks/real_model.py $(ARGS)

# The documentation site into docs/_build/html, offline, warnings as errors (tests/test_docs.py builds it too);
# the tutorials' notebooks run when their code changed (cache: docs/_build/.jupyter_cache).
docs: install
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache dist docs/_build
