# shinsei: `make run` serves the API on 127.0.0.1:8000; `make test` checks everything.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help install system-packages run test lint typecheck pytest bench fmt clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install shinsei with its development tools

system-packages: ## install the Debian packages the tests need (as root; otherwise print the apt-get line)
	@bash scripts/system-packages.sh

run: $(STAMP) ## migrate, load the samples and serve on 127.0.0.1:8000 in development mode (embedded PostgreSQL unless DATABASE_URL)
	SHINSEI_ENV=development $(BIN)/shinsei serve --load-samples

test: system-packages lint typecheck pytest ## ruff, mypy --strict and the test suite against a real PostgreSQL

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check service forms signing tests bench
	$(BIN)/ruff format --check service forms signing tests bench

typecheck: $(STAMP) ## mypy --strict on the three packages
	$(BIN)/mypy

pytest: system-packages $(STAMP) ## the test suite alone
	@# A directory of this run's own: pytest's default, /tmp/pytest-of-$$USER, is shared by every checkout
	@# of one user and keeps only the last three runs, so a second checkout's tests would delete this
	@# run's embedded database under it. Short, for PostgreSQL's socket path (at most 107 bytes).
	@tmp=$$(mktemp -d /tmp/shinsei-test.XXXXXX); $(BIN)/pytest --basetemp=$$tmp; status=$$?; rm -rf $$tmp; exit $$status

bench: $(STAMP) ## every benchmark under bench/, each printing its ratios
	@set -e; for f in bench/*.py; do [ -e "$$f" ] || continue; echo "== $$f"; $(BIN)/python $$f; done

fmt: $(STAMP) ## format and fix what ruff can
	$(BIN)/ruff format service forms signing tests bench
	$(BIN)/ruff check --fix service forms signing tests bench

clean: ## remove caches (keeps .venv and .shinsei)
	rm -rf .pytest_cache .mypy_cache .ruff_cache
