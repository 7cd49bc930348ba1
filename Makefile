# Two commands do everything on a fresh machine:
#   make demo   set up, start the Cloudflare API emulator, rotate a PSK and hand it to a router config
#   make test   every test
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYVERSION ?= 3.12
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: help venv system-deps test unit integration demo emulator clean

help:
	@echo "make demo    rotate a PSK against the local emulator and render a strongSwan config"
	@echo "make test    run every test"

$(VENV)/.installed: tests/requirements.txt tests/constraints.txt requirements.txt
	@python_bin="$$(tests/tools/find-python $(PYVERSION))" && "$$python_bin" -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt -c tests/constraints.txt
	@touch $@

venv: $(VENV)/.installed

# Debian packages some tests need (strongSwan for the IKE end-to-end test); installed only when root.
system-deps:
	@bash tests/tools/system-deps

test: venv system-deps
	$(PY) -m pytest tests $(PYTEST_ARGS)

unit: venv
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

integration: venv system-deps
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

demo: venv
	$(PY) docs/examples/demo.py

emulator: venv
	PYTHONPATH=tests/emulator $(PY) -m cf_emulator

clean:
	rm -rf $(VENV) collections demo-out tests/output .pytest_cache
