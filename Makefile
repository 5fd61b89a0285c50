# One command to set up and run, one to set up and test (see README.md).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup browser messages run demo test lint check bench bench-hashing bench-video bench-accuracy bench-index bench-service bench-webhooks clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@

setup: $(VENV)/.installed

# The service on the embedded default (SQLite and files under ./takedown-data).
run: setup
	$(VENV)/bin/takedown serve

# takedown and the reference platform together, with staff accounts and sample media.
demo: setup
	$(VENV)/bin/takedown demo

# Browser tests: Debian's chromium (driven by Playwright) and axe-core from npm.
browser:
	@test -x /usr/bin/chromium || (apt-get install -y -q chromium >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) || \
		echo "could not install chromium (apt-get install chromium as root): browser tests will skip"
	@test -f node_modules/axe-core/axe.min.js || \
		npm install --no-save --no-audit --no-fund --silent axe-core@4 || \
		echo "could not install axe-core (npm): browser tests will skip"

test: setup browser
	@$(VENV)/bin/pytest -n 2 -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure"; exit 1; fi; \
	exit $$rc

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

check: lint test

bench: bench-hashing bench-video bench-accuracy bench-index bench-service bench-webhooks
	$(PY) benchmarks/update_readme.py

bench-hashing: setup
	$(PY) benchmarks/hashing.py

bench-video: setup
	$(PY) benchmarks/video.py

bench-accuracy: setup
	$(PY) benchmarks/accuracy.py

bench-index: setup
	$(PY) benchmarks/index.py

bench-service: setup
	@command -v wrk >/dev/null || { echo "bench-service needs wrk: apt-get install wrk"; exit 1; }
	$(PY) benchmarks/service.py

# P0 restrictions to a healthy webhook receiver while another receiver is dead.
bench-webhooks: setup
	$(PY) benchmarks/webhooks.py

# Extract the pages' strings for translators (catalogs go in src/takedown/web/locale/LANG/).
messages: setup
	mkdir -p src/takedown/web/locale
	$(VENV)/bin/pybabel extract -F babel.cfg -k _ -o src/takedown/web/locale/takedown.pot .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
