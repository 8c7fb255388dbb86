# Two commands do everything on a fresh machine with python3: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[spark,postgres,dev]'
	$(BIN)/glasscredit simulate prepare  # the demo presets' plans, built once and kept
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/glasscredit demo

test: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks.engine.run
	$(BIN)/python -m benchmarks.engine.subsets
	$(BIN)/python benchmarks/ingest.py --events 1000000 --runs 3 \
		--postgres postgresql://postgres@127.0.0.1:5432/test
	$(BIN)/python benchmarks/api.py
	$(BIN)/python benchmarks/pg_rescore.py --events 1000000
	$(BIN)/python benchmarks/simulate.py --people 1000000 --orgs 50000 --months 12 --policy sesame

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache bench-data out
