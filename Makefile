# Two commands on a fresh machine: `make run` (the main job) and `make test` (the whole suite).
# Both create .venv and install what they need; nothing installed by hand is assumed.
PYTHON ?= python3
VENV ?= .venv
# The CPU build of this version lies on the build machines' disk; elsewhere pip fetches it.
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/beautynet run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy engine infra beautynet bot bench

test: lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench.images

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
