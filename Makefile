# Two commands on a fresh machine: `make demo` and `make test`. Both build what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench install node clean

# An editable install (-e) is never byte-compiled (a wheel install is), and with PYTHONDONTWRITEBYTECODE=1 (set on
# our machines and on CI) Python keeps nothing it compiles: every db-migrate run would compile the package's ~170
# modules from source again (~0.1 s of CPU a run). compileall writes their __pycache__ once; it is incremental (a
# file is recompiled only when its source changed), so `bench` runs it again to time the code as edited, not its
# compilation.
COMPILE := $(BIN)/python -m compileall -q server

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(COMPILE)
	touch $(STAMP)

install: $(STAMP)

# The real MCP clients (Claude Code CLI, MCP Inspector) the tests drive, in ./node_modules.
# Reinstalled only when package-lock.json changed (its hash is kept in node_modules/.mm-lock).
node:
	@if [ -f package.json ] && command -v npm >/dev/null; then \
		lock=$$(sha256sum package-lock.json | cut -d' ' -f1); \
		if [ "$$(cat node_modules/.mm-lock 2>/dev/null)" != "$$lock" ]; then \
			npm ci --no-audit --no-fund --loglevel=error && echo "$$lock" > node_modules/.mm-lock; fi; \
	fi

demo: $(STAMP)
	@PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

# ruff first: a lint or format finding fails the run before the suite starts (a `# noqa` needs a reason
# beside it: tests/unit/test_lint.py).
lint: $(STAMP)
	$(BIN)/ruff check server tests scripts
	$(BIN)/ruff format --check server tests scripts

test: $(STAMP) node lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(COMPILE)
	BENCH=$(BENCH) $(BIN)/python tests/bench/run.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .migration-manager
