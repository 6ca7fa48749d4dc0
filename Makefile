# `make run`: set up and run the main job.  `make test`: set up and run the tests.
# `make bundle`: the desktop bundle in dist/graphmill/ (PyInstaller), then its self-check (minutes).
# Both create .venv when missing, install Graphmill with the gui, dask and dev extras, and
# install the Debian packages Qt needs (as root; otherwise they print the apt-get line).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.graphmill-installed
BUNDLE_STAMP := $(VENV)/.graphmill-bundle-installed

# Qt offscreen needs the first line; a real window under Xvfb needs the rest (STACK.md);
# the Dask TLS test makes its certificates with openssl.
QT_DEBS := libegl1 libgl1 libx11-6 libdbus-1-3 libfontconfig1 libfreetype6 libglib2.0-0 libxkbcommon0 \
	libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 \
	libxcb-render0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1 libxcb-xfixes0 libxcb-xkb1 \
	libxcb1 libxkbcommon-x11-0 libx11-xcb1 xvfb xauth openssl

# The bundle's self-check validates the desktop integration with these when they are there.
BUNDLE_DEBS := desktop-file-utils shared-mime-info xdg-utils

.PHONY: run test lint setup sysdeps bundle clean

# With a display: the designer on a copy of the orders example. Without one: that example, headless.
run: setup sysdeps
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		$(BIN)/graphmill gui "$$($(BIN)/graphmill demo graphmill-demo --no-run)"; \
	else \
		$(BIN)/graphmill demo graphmill-demo; \
	fi

test: setup sysdeps
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

setup: $(STAMP)

# Not part of `make test` or .ci/run: freezing and checking the bundle takes a few minutes.
bundle: setup sysdeps $(BUNDLE_STAMP)
	@missing=$$(for p in $(BUNDLE_DEBS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian packages for the bundle's checks: "$$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	elif [ -n "$$missing" ]; then \
		echo "note: without "$$missing" the bundle's check skips validating the desktop files"; fi
	$(BIN)/python packaging/build.py

$(BUNDLE_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[gui,dask,dev,bundle]'
	@touch $@

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[gui,dask,dev]'
	@touch $@

sysdeps:
	@if ! command -v dpkg-query >/dev/null; then \
		echo "note: not a Debian system; make sure Qt's system libraries are installed"; exit 0; fi; \
	missing=$$(for p in $(QT_DEBS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian packages for Qt: "$$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
		echo "Graphmill needs these Debian packages for Qt. Install them as root, then run make again:"; \
		echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends" $$missing; \
		exit 1; \
	fi

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .hypothesis
