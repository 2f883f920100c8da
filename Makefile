# Two commands on a fresh machine:  `make run` starts the app, `make test` runs every test.
# Both create the virtual environment .venv from the project's requirement files first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
# localhost by default: the Import panel runs the code it is given (HOST=0.0.0.0 serves a network).
HOST ?= localhost

.PHONY: run test lint format bench browser clean canvas canvas-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

run: $(VENV)/.runtime-installed
	$(BIN)/streamlit run app.py --server.port $(PORT) --server.address $(HOST)

# ruff first (seconds), then unit, UI (AppTest) and browser (Playwright + Chromium) tests.
test: $(VENV)/.dev-installed browser canvas-check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.dev-installed
	for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# Debian's chromium for the end-to-end tests; they skip, saying why, where it cannot be installed.
browser:
	@bash scripts/install_browser.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

# The canvas component's bundle, built from its TypeScript source (needs Node 20+ and npm).
# `make run` needs none of this: the built bundle is committed.
CANVAS_FRONTEND := components/canvas_component/frontend
CANVAS_DIST := components/canvas_component/layercraft_canvas/dist

canvas:
	cd $(CANVAS_FRONTEND) && npm ci --no-audit --no-fund && npm run build

# Fails when the committed bundle is not exactly what the source builds to.
canvas-check: canvas
	@if ! git diff --quiet -- $(CANVAS_DIST) || [ -n "$$(git status --porcelain -- $(CANVAS_DIST))" ]; then \
		git status --short -- $(CANVAS_DIST); \
		echo "The canvas bundle differs from its source: run 'make canvas' and commit $(CANVAS_DIST)."; \
		exit 1; \
	fi
