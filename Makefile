# Two commands on a fresh machine: `make demo` (main job on bundled data) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo demo-vae test lint venv clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

# Text-to-video with the bundled demo model (trained by this repo on toy shape videos; docs/demo_model.md).
# Other prompts: make demo CAPTIONS='"a blue square moves from top to bottom"'
demo: venv
	$(BIN)/python infer_diffusion.py --config configs/demo/t2v_demo.yaml $(if $(CAPTIONS),--captions $(CAPTIONS))

# Reconstruct the bundled real clips with the bundled demo VAE.
demo-vae: venv
	$(BIN)/python infer_ae.py --config configs/ae/demo_reconstruction.yaml

test: venv
	$(BIN)/python -m pytest -q tests

lint: venv
	$(BIN)/ruff check .

clean:
	rm -rf samples outputs .pytest_cache
