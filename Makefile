# Two commands on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
DEMO := $(CURDIR)/demo_data
PORT ?= 8501

.PHONY: run test venv demo chromium lint bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .  # the project itself: every process of .venv imports core, no PYTHONPATH
	$(BIN)/python -m core.pipeline.warm  # compile the numba kernels once, cached on disk
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

# Debian's Chromium for the browser tests (never a browser download of Playwright's own) and
# poppler-utils (pdftoppm, pdftotext) for the report PDF checks.
chromium:
	@if [ ! -x /usr/bin/chromium ] || ! command -v pdftoppm >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils) >/dev/null; \
	  else echo "note: chromium/poppler-utils missing and apt-get is not usable; browser and PDF checks will be skipped"; fi; \
	fi

# Demo data (2 detectors x 2 epochs, simulated with known noise), made once, only when no data root is set.
demo: $(STAMP)
	@if [ -z "$$DARKS_DATA_ROOT" ] && [ ! -f $(DEMO)/.complete ]; then \
	  echo "Making the demo data set in $(DEMO) (about a minute)..."; \
	  $(BIN)/python -m core demo --out $(DEMO) && touch $(DEMO)/.complete; fi

run: $(STAMP) demo
	@$(BIN)/python -m core.pipeline.warm  # recompiles only kernels whose source changed
	DARKS_DATA_ROOT="$${DARKS_DATA_ROOT:-$(DEMO)}" $(BIN)/streamlit run app.py \
	  --server.address 127.0.0.1 --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

test: $(STAMP) chromium
	@$(BIN)/python -m core.pipeline.warm
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)  # each prints its ratios: against jwst_reffiles, the floors, one worker
	$(BIN)/python bench/bench_readnoise.py
	$(BIN)/python bench/bench_onef.py
	$(BIN)/python bench/bench_cluster.py
	$(BIN)/python bench/bench_noisebudget.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
