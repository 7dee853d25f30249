# wb — research workbench. `make` (or `make help`) lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_SYS ?= python3
VENV       := .venv
PY         := $(VENV)/bin/python
PIP        := $(PY) -m pip
WB         := $(VENV)/bin/wb
STAMP      := $(VENV)/.installed
CONSTRAINTS := requirements/constraints.txt
KERNEL_PREFIX ?= $(VENV)
KERNEL     := $(KERNEL_PREFIX)/share/jupyter/kernels/wb/kernel.json
APT_PACKAGES := fontconfig fonts-noto-cjk fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0 \
                libharfbuzz0b libharfbuzz-subset0 poppler-utils \
                openjdk-17-jre-headless
# openjdk-17-jre-headless: Java 17+ for PySpark 4 (`wb warehouse --engine spark`).
# Single-threaded BLAS keeps standard errors bit-for-bit repeatable.
export OMP_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export MPLBACKEND ?= Agg

## Show this help (default goal)
help:
	@echo "wb — research workbench for retail banking. Targets:"
	@awk '/^## /{doc=substr($$0,4); next} /^[a-zA-Z_-]+:/{if(doc!=""){split($$1,t,":"); printf "  \033[1m%-14s\033[0m %s\n", t[1], doc}; doc=""} !/^## /&&!/^[a-zA-Z_-]+:/{doc=""}' $(MAKEFILE_LIST)

## Install system packages (apt, when root and missing), .venv with locked dependencies, the `wb` Jupyter kernel
install: system-deps $(STAMP) $(KERNEL)

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "apt: installing$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing) >/dev/null \
	      || { echo "apt-get install failed for:$$missing" >&2; exit 1; }; \
	    fc-cache -f >/dev/null; \
	  else \
	    echo "warning: missing system packages:$$missing (run 'sudo make install' or apt-get install them)" >&2; \
	  fi; \
	fi

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON_SYS) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c $(CONSTRAINTS) -e ".[dev]"
	$(PY) -m wb.plots.theme --ensure-font
	@touch $(STAMP)
	@echo "installed: $(VENV)"

## Register the `wb` Jupyter kernel in the venv; its PATH starts with the venv's bin (`!wb` in Lab)
kernel: $(KERNEL)

# ${PATH} is left for Jupyter to fill in from the environment the kernel starts in
$(KERNEL): Makefile | $(STAMP)
	$(PY) -m ipykernel install --prefix $(KERNEL_PREFIX) --name wb --display-name "wb (Python 3.11)" \
	  --env PATH '$(abspath $(VENV))/bin:$${PATH}' >/dev/null
	@echo "kernel 'wb': $(KERNEL)"

## Run the default pipeline (bundled bank panel + a simulated RM export) and print the PDF brief's path
demo: install
	@folder=$$($(WB) run params/demo.yaml | tail -n 1) && echo "brief: $$folder/brief.pdf"

# pytest-xdist: TEST_WORKERS processes (make test TEST_WORKERS=0: one process). tests/conftest.py
# groups the tests (all `spark` tests on one worker, a file's tests that share a module fixture
# together) and starts the longest first; --no-loadscope-reorder keeps that order.
TEST_WORKERS ?= 2
PYTEST := $(VENV)/bin/pytest -q -n $(TEST_WORKERS) --no-loadscope-reorder

## Run the whole test suite (all tiers, 2 workers) and the layer contract: 6.4 min measured in fresh clones (README.md, Tests)
test: install
	$(VENV)/bin/lint-imports
	$(PYTEST)

## Run the quick tests only (skips `slow` and `spark`; 2 workers): 83 s measured in a fresh clone (README.md, Tests)
test-quick: install
	$(PYTEST) -m "not slow and not spark"

## Lint with ruff
lint: install
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check wb tests benchmarks notebooks
	$(VENV)/bin/ruff format --check wb tests benchmarks

## Make work/ (git-ignored) for JupyterLab: a .ipynb copy of each notebook's .py not there yet
lab-workspace:
	@mkdir -p work
	@for f in notebooks/*.py; do n="work/$$(basename "$${f%.py}").ipynb"; \
	  [ -e "$$n" ] || { $(VENV)/bin/jupytext --quiet --to ipynb --output "$$n" "$$f" && echo "work/: $$n"; }; done

## Open JupyterLab on work/ (see lab-workspace), as root or a user; .py scripts open as notebooks
lab: install lab-workspace
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@echo '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"python": "Jupytext Notebook"}},' \
	  '"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' \
	  > $(VENV)/share/jupyter/lab/settings/overrides.json
	env -u MPLBACKEND $(VENV)/bin/jupyter lab --notebook-dir=work $$([ "$$(id -u)" = 0 ] && echo --allow-root)

## Benchmarks at full scale (100,000 RMs x 36 months); never in CI. BENCH_ARGS=--warehouse: the warehouse build (40M customer-months)
bench: install
	$(PY) benchmarks/run.py $(BENCH_ARGS)

SPARK_CLUSTER_DIR ?= .spark-cluster
SPARK_CLUSTER_ARGS ?=
## Start a one-machine Spark cluster from the PySpark wheel: master spark://127.0.0.1:7077, one worker, Spark Connect sc://127.0.0.1:15002 (needs Java 17+)
spark-cluster: install
	$(PY) -m wb.warehouse.cluster start --dir $(SPARK_CLUSTER_DIR) $(SPARK_CLUSTER_ARGS)

## Stop the cluster spark-cluster started (by the PIDs in .spark-cluster/cluster.json)
spark-cluster-stop:
	$(PY) -m wb.warehouse.cluster stop --dir $(SPARK_CLUSTER_DIR)

## Rewrite the lock (requirements/constraints.txt) from a fresh resolve of pyproject.toml
lock:
	rm -rf .lockenv && $(PYTHON_SYS) -m venv .lockenv && .lockenv/bin/pip install -q --upgrade pip
	.lockenv/bin/pip install -q -e ".[dev]"
	{ echo "# Exact versions for every package in .venv (a lock). Regenerate with: make lock"; \
	  .lockenv/bin/pip freeze --exclude-editable | grep -v '^wb'; } > $(CONSTRAINTS)
	rm -rf .lockenv
	@echo "wrote $(CONSTRAINTS); commit it"

## Remove the venv, caches and generated outputs (keeps data/ and params/)
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache runs figures/*.png figures/*.svg *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

.PHONY: help install kernel system-deps demo test test-quick lint lab-workspace lab bench lock clean \
        spark-cluster spark-cluster-stop
