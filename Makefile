# strata: `make serve` runs the embedded store, `make test` runs the suite.
# Both create .venv and install the locked dependencies first (uv.lock).
PYTHON ?= python3.11
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_NO_CONFIG := 1

.PHONY: setup serve test test-all lint bench clean

$(UV):
	@echo "==> installing uv $(UV_VERSION) into $(TOOLS)/"
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	@echo "==> installing strata and its locked dependencies into $(VENV)/"
	$(UV) sync --locked --extra dev --python $(PYTHON)
	@touch $@

setup: $(VENV)/.synced

serve: setup
	$(VENV)/bin/strata serve

test: setup
	$(VENV)/bin/python -m pytest -m "not slow" -p no:cacheprovider

test-all: setup
	$(VENV)/bin/python -m pytest -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check domain projections api workers infra tests
	$(VENV)/bin/mypy domain projections api workers infra

bench: setup
	$(VENV)/bin/python -m bench.memory

clean:
	rm -rf $(VENV) $(TOOLS)
