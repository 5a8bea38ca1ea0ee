# ocr-frames: the two set-up commands are `make demo` and `make test`.
# Both create .venv (or reuse the active virtualenv) and install what they need.
PYTHON ?= python3
ifdef VIRTUAL_ENV
VENV := $(VIRTUAL_ENV)
else
VENV := .venv
endif
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ocr-frames-installed

.PHONY: demo test lint typecheck pytest install dev samples bench docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

install: $(PY)
	$(PY) -m pip install --quiet -e .

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev,local,review]'
	touch $(STAMP)

dev: $(STAMP)

demo: $(STAMP)
	$(PY) -m ocr_frames.cli demo --samples sample_data --out out/demo

test: lint typecheck pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check ocr_frames tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict ocr_frames

pytest: $(STAMP)
	$(PY) -m pytest -q

samples: $(STAMP)
	$(PY) -m pip install --quiet -e '.[samples]'
	$(PY) sample_data/make_samples.py

docs: $(STAMP)
	$(PY) -c "from ocr_frames.kinds import columns_markdown as c; open('docs/columns.md', 'w').write(c())"

bench: $(STAMP)
	$(PY) -m pip install --quiet -r bench/requirements.txt
	$(PY) -m bench.run

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache build *.egg-info
