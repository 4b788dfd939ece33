# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export CAMJAX_DATA_DIR ?= $(CURDIR)/.cache/tfds

.PHONY: demo test test-all lint bench experiments install clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[data,test,experiments]"
	# PyTorch (CPU) is only a reference in tests; they skip with a reason without it.
	$(PY) -m pip install -q torch==2.13.0 || echo "torch not installable: its tests will be skipped"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/camjax demo --workdir demo_out

lint: $(STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check camjax tests bench experiments

# make test: everything but the `exhaustive` cases (a family's further members, covered by
# its first); make test-all runs those too (about twice the time)
test: lint
	$(PY) -m pytest -q -n 2 --dist loadgroup -m "not exhaustive" --durations=25 tests

test-all: lint
	$(PY) -m pytest -q -n 2 --dist loadgroup --durations=25 tests

bench: $(STAMP)
	$(PY) bench/run_all.py

experiments: $(STAMP)
	$(PY) experiments/run_all.py

clean:
	rm -rf demo_out .cache
