# The two commands a newcomer needs: `make serve` and `make test`.
# Both create .venv, install the host and every package under plugins/ in editable mode.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := $(sort $(wildcard plugins/*/pyproject.toml))
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(PLUGINS))
UI_SOURCES := $(shell find ui/src ui/public ui/index.html ui/package.json ui/package-lock.json ui/vite.config.ts -type f 2>/dev/null)

.PHONY: install install-test serve test test-python test-plugins test-ui ui clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml $(PLUGINS)
	$(BIN)/pip install --quiet -e . $(foreach dir,$(PLUGIN_DIRS),-e ./$(dir))
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml $(PLUGINS)
	$(BIN)/pip install --quiet -e '.[test]' $(foreach dir,$(PLUGIN_DIRS),-e './$(dir)[test]')
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# Build the web app when ui/dist is missing or older than its sources.
ui/dist/index.html: $(UI_SOURCES)
	@if [ -f ui/package.json ]; then \
		cd ui && npm ci --no-audit --no-fund && npm run build; \
	else \
		echo "ui/package.json not found; skipping the web app build"; \
	fi

ui: ui/dist/index.html

serve: install ui
	$(BIN)/chatnio serve

test: install-test ui
	@bash scripts/run-tests.sh

clean:
	rm -rf $(VENV) ui/dist ui/node_modules
