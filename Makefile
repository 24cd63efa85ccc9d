# gan-bench: the two commands of the README are `make repro` and `make test`.
# Both install everything first (system package, virtual environment in .venv, Python packages).
SHELL := /bin/bash
VENV := .venv
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install system-deps repro test lint bench-stages gpu-check clean-results

install: system-deps $(STAMP)

# Fashion-MNIST comes from Debian's `dataset-fashion-mnist` (no download at run time); headless Chromium
# and its driver (`chromium`, `chromium-driver`) run the report's browser tests.
SYSTEM_PACKAGES := dataset-fashion-mnist chromium chromium-driver
system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else \
		echo "NOTE: missing Debian packages: $$missing. Run 'sudo apt-get install $$missing'."; \
		echo "      (Fashion-MNIST alternative: 'gbench download-fmnist DIR', then data.fmnist_dir: DIR in params.yaml.)"; \
	fi

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev,ray]'
	touch $@

repro: install
	dvc repro

test: install
	pytest

lint: install
	ruff check .

# Time of `dvc repro` per stage type, study and family, and of a no-op repro after it (in a fresh clone: the
# whole default pipeline; tests/benchmarks/stage_times.py, --force to re-run every stage).
bench-stages: install
	python tests/benchmarks/stage_times.py

# On a lent GPU machine: a smoke run of each task kind on CUDA, the DDP path (NCCL with 2+ GPUs) and two
# standard-profile fmnist32 runs, printed as JSON lines (tests/benchmarks/gpu_check.py; --dry runs on the CPU).
gpu-check: install
	python tests/benchmarks/gpu_check.py --seconds $${SECONDS_PER_RUN:-120}
