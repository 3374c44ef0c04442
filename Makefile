# Quick start: `make run` serves on http://127.0.0.1:3000; `make test` runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test quick lint typecheck unit bench docs docs-site clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/mintage serve

lint: $(STAMP)
	$(BIN)/ruff check src tests examples bench
	$(BIN)/ruff format --check src tests examples bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck unit

# The inner loop: in-process tests only (markers in pyproject.toml), no server of its own
# (PostgreSQL, Redis), no real processes, browser or Node.
quick: $(STAMP)
	$(BIN)/pytest -q -m "(unit or http) and not (e2e or pg or redis)" $(PYTEST_ARGS)

# Mintage against its peers (slow, noisy; not part of `make test`): BENCH_ARGS="--quick"
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

docs: $(STAMP)
	$(BIN)/python -m mintage.settings > docs/configuration.md

# API reference from the docstrings (pdoc), in $(SITE)/: the engine and its models and
# storage protocols, the stores, the settings, the logs and the resource kit, module by
# module (the packages `mintage` and `mintage.resource` load their names lazily, which
# pdoc cannot follow). tests/docs/test_api_site.py builds it.
SITE ?= site
API_MODULES := mintage.core mintage.storage mintage.storage.sql.sqlite \
	mintage.storage.sql.postgres mintage.settings mintage.logs \
	$(sort $(subst /,.,$(patsubst src/%.py,%,$(filter-out %/__init__.py,$(wildcard src/mintage/resource/*.py)))))
docs-site: $(STAMP)
	$(BIN)/pdoc -d restructuredtext -o $(SITE) $(API_MODULES)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache site
