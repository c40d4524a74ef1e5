# The README's two commands: `make demo` and `make test`. Both create .venv when it is
# missing or older than pyproject.toml, then run.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test bench clean-demo

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

demo/corpus/synth_record.json: $(STAMP)
	$(BIN)/affect synth demo/corpus --clips 8 --seconds 20 --seed 0

demo: $(STAMP) demo/corpus/synth_record.json
	$(BIN)/affect run -c pipelines/conf/demo.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -u benchmarks/run_all.py

clean-demo:
	rm -rf demo features/demo
