# strata: `make serve` runs the embedded store, `make test` runs the suite.
# Both create .venv and install the locked dependencies first (uv.lock).
PYTHON ?= python3.11
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_NO_CONFIG := 1

.PHONY: setup client-tools bench-tools serve test test-all lint bench clean

$(UV):
	@echo "==> installing uv $(UV_VERSION) into $(TOOLS)/"
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

# Three layers, each on the one before: what `make serve` needs, what the tests and
# linters add, what the benchmarks add. --inexact: a layer never removes another's.
$(VENV)/.synced-runtime: $(UV) uv.lock pyproject.toml
	@echo "==> installing strata and its locked runtime dependencies into $(VENV)/"
	$(UV) sync --locked --inexact --python $(PYTHON)
	@touch $@

$(VENV)/.synced-dev: $(VENV)/.synced-runtime
	@echo "==> adding the test and lint tools"
	$(UV) sync --locked --inexact --extra dev --python $(PYTHON)
	@touch $@

$(VENV)/.synced-bench: $(VENV)/.synced-dev
	@echo "==> adding the benchmark peers and plotting"
	$(UV) sync --locked --inexact --extra dev --extra bench --python $(PYTHON)
	@touch $@

# The S3 client tools the tests drive, and nginx in front of a cluster's API instances,
# from Debian's packages at pinned versions. nginx is pinned to Debian 12's upstream
# version and revision with any security update of it (deb12uN): the security archive
# keeps only the newest update, so an exact pin stops installing when the next one ships.
NGINX := nginx-light=1.22.1-9+deb12u*
# The browser the CORS tests drive (headless). Pinned exactly; Debian ships Chromium's
# security releases as new upstream versions, so this pin moves with them.
CHROMIUM := chromium=156.0.8078.129-1~deb12u1
DEBIAN_TOOLS := rclone=1.60.1+dfsg-2+b5 s3fs=1.90-1 $(NGINX) $(CHROMIUM)
# promtool checks the alert rules in the tests; prometheus is what
# `strata cluster up --monitoring` starts. Without its recommends (a node exporter).
PROMETHEUS := prometheus=2.42.0+ds-5+deb12u1

# $(call debian_tools,<commands>,<pinned packages>,<who needs them>[,<apt-get flags>]):
# install the packages from Debian when any command is missing (as root), else say
# what to run.
define debian_tools
	@set -f; missing=; for c in $(1); do command -v $$c >/dev/null || missing=1; done; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "==> installing what $(3) need: $(2)"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(4) $(2) >/dev/null \
		|| { apt-get update -q >/dev/null && \
		     DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(4) $(2) >/dev/null; }; \
	else \
		echo "$(1) are needed by $(3): run 'sudo apt-get install $(4) $(2)'"; \
		exit 1; \
	fi
endef

client-tools:
	$(call debian_tools,rclone s3fs nginx chromium,$(DEBIAN_TOOLS),the tests)
	$(call debian_tools,prometheus promtool,$(PROMETHEUS),the monitoring tests,--no-install-recommends)

setup: $(VENV)/.synced-dev

serve: $(VENV)/.synced-runtime
	$(VENV)/bin/strata serve

test: setup client-tools
	$(VENV)/bin/python -m pytest -m "not slow" -p no:cacheprovider --durations=15

test-all: setup client-tools
	$(VENV)/bin/python -m pytest -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check domain projections api workers infra tests bench
	$(VENV)/bin/mypy domain projections api workers infra

# The load generator and the static-file ceiling for `make bench`, from Debian, pinned.
BENCH_TOOLS := wrk=4.1.0-3+b2 $(NGINX)

bench-tools:
	$(call debian_tools,wrk nginx,$(BENCH_TOOLS),make bench)

bench: $(VENV)/.synced-bench bench-tools
	$(VENV)/bin/python -m bench.suite
	$(VENV)/bin/python -m bench.workers
	$(VENV)/bin/python -m bench.cells
	$(VENV)/bin/python -m bench.memory
	$(VENV)/bin/python -m bench.metadata
	$(VENV)/bin/python -m bench.history
	$(VENV)/bin/python -m bench.cluster
	$(VENV)/bin/python -m bench.kafka
	$(VENV)/bin/python -m bench.relay
	$(VENV)/bin/python -m bench.multipart_parts 10000
	$(VENV)/bin/python -m bench.geo
	$(VENV)/bin/python -m bench.lifecycle
	$(VENV)/bin/python -m bench.sse

clean:
	rm -rf $(VENV) $(TOOLS)
