# One command to set up and run, one to set up and test (see README.md).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup lock lock-check audit browser messages run demo test lint check bench bench-hashing bench-video bench-accuracy bench-index bench-service bench-webhooks bench-exchanges docs clean

LOCK := requirements/lock.txt
LOCK_INPUTS := pyproject.toml requirements/build.in
LOCK_ARGS := --extra dev --extra bench --extra docs --generate-hashes --python-version 3.11 \
	--custom-compile-command "make lock"

# Every dependency (with the dev and bench extras, pip and the build tools) from the
# hash-pinned lock, then takedown itself, built with those tools and adding nothing else.
$(VENV)/.installed: $(LOCK_INPUTS) $(LOCK)
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

setup: $(VENV)/.installed

# After changing dependencies in pyproject.toml or requirements/build.in: resolve again,
# keeping the versions already locked (UPGRADE=1 takes the newest allowed), then make setup.
lock: setup
	$(VENV)/bin/uv pip compile $(LOCK_INPUTS) $(LOCK_ARGS) $(if $(UPGRADE),--upgrade) -o $(LOCK)

# CI: the lock still satisfies pyproject.toml (a dependency added or a bound raised without
# `make lock` fails here, not in production).
lock-check: setup
	@cp $(LOCK) $(VENV)/lock-check.txt
	@$(VENV)/bin/uv pip compile --quiet $(LOCK_INPUTS) $(LOCK_ARGS) -o $(VENV)/lock-check.txt
	@grep -E '^[A-Za-z0-9]' $(LOCK) | cut -d' ' -f1 > $(VENV)/lock-pins.txt
	@grep -E '^[A-Za-z0-9]' $(VENV)/lock-check.txt | cut -d' ' -f1 | \
		diff -u $(VENV)/lock-pins.txt - || \
		{ echo "$(LOCK) is out of date with $(LOCK_INPUTS): run make lock"; exit 1; }
	@echo "$(LOCK): up to date"

# The locked dependencies against PyPI's advisory data (then OSV's). A known vulnerability
# fails. When no advisory service can be reached from this machine it says NOT AUDITED and
# fails too, unless ALLOW_UNAUDITED=1 (CI), which still prints the warning.
audit: setup
	@$(PY) requirements/audit.py $(LOCK) || { rc=$$?; \
		if [ $$rc -eq 3 ] && [ -n "$(ALLOW_UNAUDITED)" ]; then \
			echo "WARNING: the dependencies were NOT audited (no advisory service reachable)"; \
		else exit $$rc; fi; }

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
	@$(VENV)/bin/pytest -n 2 -q --durations=25; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure"; exit 1; fi; \
	exit $$rc

# The documentation site (docs/, MkDocs with the Material theme) into site/; the reference pages
# (HTTP API, CLI, configuration, policy) are generated from the code; a warning fails the build.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet
	@echo "site/index.html: the documentation site"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

check: lint docs test

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

# 1,000,000 PDQ + 100,000 MD5 entries fetched from a hash-list stand-in into a bank, against the
# API's bank import in the same run; then the retro-scan benchmark where it exists.
bench-exchanges: setup
	$(PY) benchmarks/exchange_fetch.py
	$(PY) benchmarks/exchange_fetch_ncmec.py
	if [ -f benchmarks/retro_scan.py ]; then $(PY) benchmarks/retro_scan.py; fi

# Extract the pages' strings for translators (catalogs go in src/takedown/web/locale/LANG/).
messages: setup
	mkdir -p src/takedown/web/locale
	$(VENV)/bin/pybabel extract -F babel.cfg -k _ -o src/takedown/web/locale/takedown.pot .
	$(VENV)/bin/pybabel extract -F babel-public.cfg -k _ -k N_ --project takedown --copyright-holder takedown -o src/takedown/web/locale/public.pot .
	for lang in es de; do $(VENV)/bin/pybabel update -D public -i src/takedown/web/locale/public.pot -d src/takedown/web/locale -l $$lang -w 100; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
