# Two commands on a fresh machine: `make demo` (main job on bundled data) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint venv clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

# Reconstruct the bundled real clip with the bundled small VAE (see README: placeholder weights).
demo: venv
	$(BIN)/python infer_ae.py --config configs/ae/demo_reconstruction.yaml

test: venv
	$(BIN)/python -m pytest -q tests

lint: venv
	$(BIN)/ruff check .

clean:
	rm -rf samples outputs .pytest_cache
