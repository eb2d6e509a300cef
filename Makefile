PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench soak clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)
	$(BIN)/ruff check bunraku.py cli engine dsl master agent facts wire tests bench examples
	$(BIN)/mypy engine dsl facts master agent cli wire
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check bunraku.py cli engine dsl master agent facts wire tests bench examples
	$(BIN)/mypy engine dsl facts master agent cli wire

bench: $(STAMP)
	$(BIN)/python bench/run.py

# long reliability runs (500 agents x 3 runs, master kills, failover): see docs/RELIABILITY.md
soak: $(STAMP)
	$(BIN)/python -m pytest tests/reliability -m soak -v

clean:
	rm -rf $(VENV) build *.egg-info
