# Every target installs what it needs first; `make test` works on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck check demo bench-documents bench-memory bench-scheduler bench-planner bench-loop bench-auth bench-matcher bench-cli bench-footprint bench-dashboard bench-mcp bench-cluster clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/almanac serve

test: $(STAMP)
	@test -x /usr/bin/chromium || echo "note: the dashboard's browser tests skip without Chromium: sudo apt-get install -y chromium"
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench-memory: $(STAMP)
	$(BIN)/python bench/memory_recall.py
	$(BIN)/python bench/memory_load.py

bench-documents: $(STAMP)
	$(BIN)/python bench/documents_bench.py

bench-scheduler: $(STAMP)
	$(BIN)/python bench/scheduler_bench.py

bench-planner: $(STAMP)
	$(BIN)/python bench/planner_bench.py

bench-loop: $(STAMP)
	$(BIN)/python bench/learning_loop.py

bench-mcp: $(STAMP)
	$(BIN)/python bench/mcp_bench.py

bench-auth: $(STAMP)
	$(BIN)/python bench/auth_bench.py

bench-dashboard: $(STAMP)
	$(BIN)/python bench/dashboard_bench.py

demo: $(STAMP)
	$(BIN)/almanac demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

bench-matcher: $(STAMP)
	$(BIN)/python bench/matcher_bench.py

bench-cli: $(STAMP)
	$(BIN)/python bench/cli_bench.py

bench-footprint: $(STAMP)
	$(BIN)/python bench/footprint.py

bench-cluster: $(STAMP)
	$(BIN)/python bench/cluster_bench.py
