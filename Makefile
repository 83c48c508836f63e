# riskclass — two commands on a fresh machine: `make run` then `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install system-packages run test test-slow test-spark lint format bench docs clean

# Debian packages the reports need: a font with Chinese glyphs for the charts, and the headless Chromium that
# checks each report opens offline (tests/test_reports_offline.py)
SYSTEM_PACKAGES := chromium-headless-shell fonts-noto-cjk
# the Spark engine (`--engine spark`, docs/spark.md) needs a Java 17+ runtime: installed only when java is missing
JAVA_PACKAGE := openjdk-17-jre-headless

$(STAMP): pyproject.toml requirements.lock
	$(MAKE) --no-print-directory system-packages
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name riskclass --display-name "riskclass (Python 3.11)" >/dev/null
	touch $(STAMP)

system-packages:  ## the Debian packages above, when missing (as root; otherwise says what to install)
	@missing=""; \
	if ! (command -v chromium-headless-shell >/dev/null && command -v fc-list >/dev/null && fc-list :lang=zh | grep -q .); then \
	  missing="$(SYSTEM_PACKAGES)"; fi; \
	if ! command -v java >/dev/null && [ ! -x "$${JAVA_HOME:-/nonexistent}/bin/java" ]; then missing="$$missing $(JAVA_PACKAGE)"; fi; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "riskclass: the reports and the Spark engine need the Debian packages$$missing: sudo apt-get install$$missing"; fi

install: $(STAMP)  ## create .venv, install the locked environment and the Jupyter kernel

run: install  ## generate the default synthetic city and run the pipeline (dvc repro)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

test: install  ## the main (fast) test suite
	$(BIN)/python -m pytest -m "not slow" -n 2 -q

test-slow: install  ## heavier checks (larger synthetic cities)
	$(BIN)/python -m pytest -m slow -q

test-spark: install  ## the Spark engine's equality tests (≈ 3–4 min: a local[2] session; CI runs them after `make test`)
	$(BIN)/python -m pytest -m spark -q

lint: install
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

bench: install  ## synth + ingest benchmarks (see docs/benchmarks.md); ENTITIES=1000000 for the large run
	$(BIN)/python benchmarks/bench_synth_ingest.py --entities $${ENTITIES:-50000}

docs: install  ## regenerate generated documentation
	$(BIN)/riskclass contract-doc

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
