# `make test` and `make demo` set up everything they need, idempotently:
# a virtual environment in .venv with the pinned stack (requirements/*.txt),
# mmcv built once from its sdist and cached outside the checkout.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
REQS := $(wildcard requirements/*.txt) setup.py
STAMP := $(VENV)/.mmswtat-installed

.PHONY: env test test-fast lint format demo clean-env

env: $(STAMP)

$(STAMP): $(REQS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -r requirements/torch.txt -r requirements/build.txt
	$(PIP) install -q mmengine==$$(sed -n 's/^mmengine==//p' requirements/mminstall.txt) -r requirements/runtime.txt
	bash tools/install_mmcv.sh $(PY)
	$(PIP) install -q -r requirements/mminstall.txt -r requirements/runtime.txt -r requirements/tests.txt
	$(PIP) install -q --no-deps --no-build-isolation -e .
	$(PY) -c "import mmcv.ops, mmseg, mmdet, mmpretrain, mmswtat; print('[env] ready:', mmswtat.__version__)"
	@touch $@

# Two pytest-xdist workers of one thread each (2 cores); the tests that
# share a session fixture (a folder of tests/e2e/) run in one worker and
# the heaviest files start first (tests/conftest.py: xdist_group,
# E2E_ORDER). TEST_WORKERS=0 runs them in this one process, on two threads.
TEST_WORKERS ?= 2
TEST_THREADS := $(if $(filter 0,$(TEST_WORKERS)),2,1)
PYTEST := OMP_NUM_THREADS=$${OMP_NUM_THREADS:-$(TEST_THREADS)} $(PY) -m pytest \
	tests -q -p no:cacheprovider -n $(TEST_WORKERS) --no-loadscope-reorder
test: $(STAMP)
	$(PYTEST) --durations=15

# The edit loop: every test but the end-to-end ones (tests/e2e/, marked
# e2e by tests/e2e/conftest.py); `make test` runs them all.
test-fast: $(STAMP)
	$(PYTEST) -m "not e2e"

# Style (settings in setup.cfg): flake8, isort and yapf on the whole tree,
# checking only (`make format` applies isort and yapf); CI runs it before
# `make test`.
STYLED := mmswtat tools tests configs _mmswtat_scope.py setup.py
lint: $(STAMP)
	$(PY) -m flake8 $(STYLED)
	$(PY) -m isort --check-only --diff $(STYLED)
	$(PY) -m yapf --diff --recursive $(STYLED)

format: $(STAMP)
	$(PY) -m isort $(STYLED)
	$(PY) -m yapf --in-place --recursive $(STYLED)

demo: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) tools/demo.py $(DEMO_ARGS)

clean-env:
	rm -rf $(VENV)
