# Two commands on a fresh machine: `make demo` and `make test`. Both build what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench install node clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The real MCP clients (Claude Code CLI, MCP Inspector) the tests drive, in ./node_modules.
node:
	@if [ -f package.json ] && command -v npm >/dev/null; then \
		if [ ! -d node_modules ] || [ package.json -nt node_modules ]; then \
			npm ci --no-audit --no-fund --loglevel=error && touch node_modules; fi; \
	fi

demo: $(STAMP)
	@PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

test: $(STAMP) node
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

bench: $(STAMP)
	BENCH=$(BENCH) $(BIN)/python tests/bench/run.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .migration-manager
