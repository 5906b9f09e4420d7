# Entry points. `make pipeline` and `make test` are the README's two Quickstart commands.
PY := .venv/bin/python

.PHONY: setup pipeline pipeline-quick test test-fast lint train merge

setup:
	bash scripts/setup.sh

pipeline: setup
	$(PY) scripts/run_pipeline.py

pipeline-quick: setup
	$(PY) scripts/run_pipeline.py --quick

# The README's test command (CI runs it too).
test: setup
	$(PY) -m pytest -q

test-fast:
	$(PY) -m pytest -q -m "not slow"

lint:
	.venv/bin/ruff check .

train: setup
	$(PY) scripts/train.py axolotl_configs/smollm2-135m-lora-cpu.yml
