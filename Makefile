# Two commands on a fresh machine: `make run` (the main job) and `make test` (the whole suite).
# Both create .venv and install what they need; nothing installed by hand is assumed.
PYTHON ?= python3
VENV ?= .venv
# The CPU build of this version lies on the build machines' disk; elsewhere pip fetches it.
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

# Installing takes about 1.5 minutes here (longer where torch must be downloaded, ~200 MB);
# each step says what it does, and pip shows its progress.
$(STAMP): pyproject.toml
	@echo "== installing beautynet into $(VENV): about 1.5 minutes, once (again when pyproject.toml changes)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "== 1/3 pip"
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "== 2/3 torch (the largest part)"
	$(BIN)/python -m pip install --progress-bar on "$(TORCH)"
	@echo "== 3/3 beautynet and its other dependencies"
	$(BIN)/python -m pip install --progress-bar on -e '.[dev]'
	touch $(STAMP)
	@echo "== installed"

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
