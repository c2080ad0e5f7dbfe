# Two commands on a fresh machine: `make demo` (main job on bundled data) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo demo-i2v demo-vae serve test lint check venv clean

$(BIN)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

# Text-to-video with the bundled demo model (trained by this repo on toy shape videos; docs/demo_model.md).
# Another prompt: make demo CAPTIONS="a blue square moves from top to bottom" (one prompt; several: a .txt file,
# one per line, as CAPTIONS=prompts.txt).
demo: venv
	PYTHON=$(BIN)/python scripts/cpu/demo.sh $(if $(CAPTIONS),--captions "$(CAPTIONS)")

# Image-to-video with the bundled v1.3-family demo model (OpenSoraInpaint v1.3 + WF-VAE, trained by this repo on the
# toy shape videos; docs/demo_model.md): the bundled first frame, continued the caption's way. Another frame and
# prompt: make demo-i2v IMAGE=my_frame.png CAPTIONS="a red circle moves from top to bottom".
demo-i2v: venv
	PYTHON=$(BIN)/python scripts/cpu/demo_i2v.sh $(if $(IMAGE),--conditional_pixel_values_path "$(IMAGE)") \
		$(if $(CAPTIONS),--captions "$(CAPTIONS)")

# Reconstruct the bundled real clips with the bundled demo VAE.
demo-vae: venv
	$(BIN)/python infer_ae.py --config examples/toy_world/configs/demo_reconstruction.yaml

# The web UI on http://127.0.0.1:7860 with the bundled demo model (PORT=8000, CONFIG=<an infer_diffusion.py config>).
serve: venv
	$(BIN)/python -m opensora.serve $(if $(PORT),--port $(PORT)) $(if $(CONFIG),--config $(CONFIG))

test: venv
	$(BIN)/python -m pytest -q tests

# CI runs both (.ci/run).
check: lint test

lint: venv
	$(BIN)/ruff check .

clean:
	rm -rf samples outputs .pytest_cache
