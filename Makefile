# newsnlp — `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# The models load from local folders only: never reach for a model hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.DEFAULT_GOAL := help
.PHONY: help install install-browser run worker webhook-worker test test-unit test-integration test-e2e bench bench-quick bench-lanes bench-api load install-wrk eval eval-stance eval-summary eval-checklist train-stance chaos soak lint format clean

help: ## List the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-18s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv and install everything (torch CPU first)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU wheel. Anything that pulls torch later finds it satisfied.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	# The `newsnlp` command, pointing at this checkout.
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install-browser: ## Debian's chromium (as root) and axe-core (npm, into node_modules) for the browser tests
	@if command -v chromium >/dev/null; then echo "chromium: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium could not be installed: the browser test will be skipped"; \
	else echo "not root: chromium not installed, the browser test will be skipped"; fi
	@# package-lock.json pins axe-core and its checksum; the accessibility test skips without it.
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --loglevel=error \
	  || echo "axe-core could not be installed: the accessibility test will be skipped"; \
	else echo "npm not found: axe-core not installed, the accessibility test will be skipped"; fi

run: install ## Start Redis (embedded unless REDIS_URL is set), the API, one worker, one webhook worker
	$(PY) -m devstack.run

worker: install ## Start one worker against REDIS_URL (for more workers, on any machine)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" exec $(PY) -m worker.command worker

webhook-worker: install ## Start one webhook worker (deliveries; threads, no models) against REDIS_URL
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" exec $(PY) -m worker.command webhook-worker

test: install install-browser ## Run the whole suite (starts its own Redis and worker processes)
	$(PY) -m pytest

test-unit: install ## Unit tests only (no Redis, no worker)
	$(PY) -m pytest tests/unit

test-integration: install ## Integration tests (real Redis, real Celery worker)
	$(PY) -m pytest tests/integration

test-e2e: install install-browser ## End-to-end tests (the processes `make run` starts, over HTTP)
	$(PY) -m pytest tests/e2e

eval-stance: install ## FNC-1 competition-test score of the committed stance model
	$(PY) -m evaluation.eval_stance

eval-summary: install ## ROUGE of the summarizer on the 250 CNN/DM test articles, with Lead-3
	$(PY) -m evaluation.eval_summary

eval-checklist: install ## The stance model on hand-written claims over real articles, per group
	$(PY) -m evaluation.checklist

eval: eval-stance eval-summary eval-checklist ## All the evaluations

train-stance: install ## Retrain the whole stance model (LightGBM stages, claim verifier, aggregator) into models/stance (~35 min on 2 cores, resumable)
	$(PY) -m evaluation.train_stance
	$(MAKE) train-verifier

train-verifier: install ## Train the claim verifier (resumable) and its aggregator, and ship both into models/stance
	$(PY) -m evaluation.train_verifier --layers 6 --epochs 2 --lr 5e-5 --out var/verifier
	@# stage 2's out-of-sample hold-out probabilities, which the aggregator is fitted on
	test -f var/cache/stance/holdout-lgb.npz || $(PY) -m evaluation.train_stance --out var/stance_retrain
	$(PY) -m evaluation.train_verdicts --verifier var/verifier --write

bench: install ## Throughput: naive vs in-process vs end-to-end vs raw model, in one run (<= 10 min)
	$(PY) -m bench.throughput

bench-quick: install ## The same benchmark on a smaller corpus (<= 2 min)
	$(PY) -m bench.throughput --quick

bench-lanes: install ## Interactive p95 with 2,000 bulk jobs queued vs idle, on one worker; bulk throughput vs one queue
	$(PY) -m bench.lanes

install-wrk: ## Debian's wrk for bench-api (as root)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || \
	  echo "wrk is not installed and cannot be installed here (not root)"

bench-api: install install-wrk ## API latency under a fixed POST rate vs a bare Flask endpoint and a same-work control (wrk)
	$(PY) -m bench.api_latency

load: install ## /healthz p99 while 500 clients long-poll and 32 send a byte a second; the waiters' answers
	$(PY) -m bench.load

chaos: install ## Crash workers, restart Redis, cut a worker off, fail Redis over (Sentinel): no job lost
	$(PY) -m ops.chaos

soak: install ## 10,000 small jobs through the real stack: 0 lost, memory and Redis keys bounded
	$(PY) -m ops.soak

lint: install ## ruff lint and format check, mypy on services/, jobs/ and worker/
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install ## Format the code with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean: ## Remove caches and runtime data (keeps .venv)
	rm -rf var .pytest_cache .ruff_cache .mypy_cache
