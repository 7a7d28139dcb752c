# AYBIZA developer and CI entry points. CI runs `bash .ci/run`, which ends in `make test`.
#   make test PYTEST_ARGS="-k twilio -x"   the suite on throwaway PostgreSQL + Redis
#   make lint                             ruff

PYTHON ?= python3
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
# Written after a successful install; older than any requirements file means "install again".
STAMP := $(VENV)/.stamp
PYTEST_ARGS ?=

.PHONY: venv test test-standard-path lint clean demo serve screenshots bench-portal bench-cost eval

venv: $(STAMP)

$(STAMP): $(wildcard requirements/*.txt)
	@if [ ! -x $(VENV_PYTHON) ]; then \
		$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
			|| { echo "AYBIZA needs Python >= 3.11; try make PYTHON=python3.11" >&2; exit 1; }; \
		echo "creating $(VENV) with $(PYTHON)"; \
		$(PYTHON) -m venv $(VENV); \
	fi
	$(VENV_PYTHON) -m pip install --disable-pip-version-check --quiet -r requirements/dev.txt
	$(VENV_PYTHON) -m pip install --disable-pip-version-check --quiet --no-deps \
		-r requirements/models.txt
	@touch $@

# devtools.services starts PostgreSQL and Redis on free ports, exports DATABASE_URL and REDIS_URL,
# and stops them afterwards; without the binaries it warns and the suite uses SQLite.
test: venv
	$(VENV_PYTHON) -m devtools.services -- $(VENV_PYTHON) -m pytest $(PYTEST_ARGS)

# The real-time tests again with the server fast path off (AYBIZA_SERVER_FAST_PATH=false: plain
# daphne, Channels' own consumer loop, Django's own handler), the path production falls back to
# when an upgraded library no longer has the shape aybiza/server/ patches (CI runs both). About a
# minute and a half: the consumer's protocol, tool results over the channel layer, a whole call.
STANDARD_PATH_TESTS := calls/tests/test_consumer.py calls/tests/test_secure_capture.py \
	tests/test_e2e_call.py::test_the_demo_call_runs_end_to_end_and_is_stored
test-standard-path: venv
	AYBIZA_SERVER_FAST_PATH=false $(VENV_PYTHON) -m devtools.services -- \
		$(VENV_PYTHON) -m pytest -q $(STANDARD_PATH_TESTS) $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

# Caches only: the venv is slow to rebuild, remove it by hand (rm -rf .venv) when needed.
clean:
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache

# --- demo and bench ----------------------------------------------------------------------------
# The main job on the embedded default: migrate, seed, start daphne, run a simulated phone call
# (greeting, a question, a booking through a tool, goodbye), print both sides, stop.
demo: venv
	$(VENV_PYTHON) manage.py demo

# The offline agent's quality on the shipped evaluation sets (docs/quality.md): text, speech,
# and every demo scenario as a phone call. About 15 minutes; `manage.py quality --help`.
eval: venv
	$(VENV_PYTHON) manage.py quality --calls --json docs/quality/latest.json \
		--plot docs/quality/quality.png $(EVAL_ARGS)

# The embedded server on http://127.0.0.1:8000, seeded; Ctrl-C to stop. The server names the
# development settings: aybiza.asgi defaults to production (README, "Production").
serve: venv
	$(VENV_PYTHON) manage.py migrate --noinput
	$(VENV_PYTHON) manage.py seed_demo --base-url http://127.0.0.1:8000
	DJANGO_SETTINGS_MODULE=aybiza.settings.dev PUBLIC_BASE_URL=http://127.0.0.1:8000 OFFLINE_SPEECH_WARMUP=true $(VENV_PYTHON) -m aybiza.server -b 127.0.0.1 -p 8000 aybiza.asgi:application

# Browser libraries of the portal (static/vendor/manifest.json): fetched from the npm registry by
# their pinned versions and integrity hashes. Their files are committed; run this to upgrade one.
.PHONY: vendor
vendor: venv
	$(VENV_PYTHON) manage.py vendor_assets

# docs/portal/*.png: the portal's main pages in headless Chromium (Debian chromium and
# chromium-driver), over a throwaway SQLite database with sample agents, numbers and calls.
screenshots: venv
	DATABASE_URL= AYBIZA_SCREENSHOTS=docs/portal $(VENV_PYTHON) -m pytest -q -p no:cacheprovider \
		aybiza/portal/tests/screenshots.py aybiza/portal/tests/test_browser_call.py

# Server time of the portal's call list on 100,000 stored calls, on the embedded default (a
# separate SQLite file, seeded on the first run): docs/portal.md has a result.
# Cost per typical call with Claude on the Bedrock fake (which bills like Bedrock), caching and
# routing off and on: README, "Cost per call, measured". BENCH_COST_ARGS="--json" for JSON.
bench-cost: venv
	$(VENV_PYTHON) -m tests.bench_cost $(BENCH_COST_ARGS)

bench-portal: venv
	DATABASE_URL=sqlite:///$(CURDIR)/var/bench-portal.sqlite3 $(VENV_PYTHON) manage.py migrate --noinput -v0
	DATABASE_URL=sqlite:///$(CURDIR)/var/bench-portal.sqlite3 $(VENV_PYTHON) manage.py bench_call_list $(BENCH_PORTAL_ARGS)

# Load and latency benchmark (docs/performance.md): throwaway PostgreSQL + Redis, daphne pinned to
# core 0, a ramp of simulated Twilio calls from core 1. BENCH_ARGS="--quick" takes about a minute;
# `manage.py bench --help` lists the options.
BENCH_ARGS ?=
.PHONY: bench
bench: venv
	$(VENV_PYTHON) manage.py bench $(BENCH_ARGS)

# The seed's 10,000-call test: a campaign through the real dialer and the simulated carrier.
.PHONY: bench-campaign
bench-campaign: venv
	$(VENV_PYTHON) manage.py bench_campaign $(BENCH_CAMPAIGN_ARGS)
