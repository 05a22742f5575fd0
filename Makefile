# The README's commands. Each installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev

.PHONY: install dev test bench openapi clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## make dev: the whole platform on this machine (no AWS or Twilio account needed)
dev: install
	$(VENV)/bin/callingbox dev

## make test: the whole test suite
test: install
	$(PY) -m pytest -n 2 --dist loadfile

## make bench: every benchmark; figures printed and written to benchmarks/results.json
bench: install
	$(PY) -m benchmarks

## make openapi: regenerate the committed openapi.json
openapi: install
	$(PY) -c "from callingbox.core.openapi import openapi_json; open('openapi.json', 'w').write(openapi_json())"

clean:
	rm -rf $(VENV) .pytest_cache .callingbox
