# lmrec: `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0
# Use the shared offline data when it sits beside the checkout; otherwise lmrec's own default
# (the user cache directory, filled by official downloads) applies.
SHARED_DATA := $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_DATA)/ml-100k),)
export LMREC_DATA_DIR ?= $(SHARED_DATA)
endif

.PHONY: run test lint typecheck unit bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev,parquet,torch,text,ann,llm]"
	touch $@

run: $(BIN)/.installed
	$(BIN)/lmrec demo --dataset ml-100k

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(BIN)/.installed
	$(BIN)/mypy

unit: $(BIN)/.installed
	$(BIN)/pytest -q

test: lint typecheck unit

bench: $(BIN)/.installed
	$(BIN)/python bench/load_data.py
	$(BIN)/python bench/baselines.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
