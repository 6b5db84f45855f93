# Everything a fresh machine needs: `make demo` and `make test` create .venv and install on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint bench install

install: $(STAMP)

# The web UI tests drive Debian's Chromium with Playwright (`playwright install` cannot download here).
$(CHROMIUM):
	$(SUDO) apt-get install -y -q chromium || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium)

$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[hf,lite,s3,ray,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/sightline demo

lint: $(STAMP)
	$(PY) -m ruff check sightline tests benchmarks
	$(PY) -m ruff format --check sightline tests benchmarks
	$(PY) -m mypy

test: $(STAMP) $(CHROMIUM)
	$(PY) -m ruff check sightline tests benchmarks
	$(PY) -m mypy
	$(PY) -m pytest -n 2 -q

bench: $(STAMP)
	$(PY) benchmarks/accuracy.py
	$(PY) benchmarks/speed.py
