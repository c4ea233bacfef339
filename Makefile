# Docket. `make run` and `make test` are all a new machine needs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test test-sqlite test-postgres test-browser bench lint lock clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/docket migrate
	$(BIN)/docket serve

# The whole suite on SQLite, again on PostgreSQL, and the browser tests in Chromium.
# DOCKET_REQUIRE_ALL=1 (set by .ci/run) turns a missing PostgreSQL or Chromium into a failure, not a skip.
test: $(STAMP) test-sqlite test-postgres test-browser

test-sqlite: $(STAMP)
	$(BIN)/pytest -q -m "not browser"

test-postgres: $(STAMP)
	@if $(BIN)/python -c "import psycopg; psycopg.connect('$(subst +psycopg,,$(PG_TEST_URL))').close()" 2>/dev/null; then \
		DOCKET_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q -m "not browser" -p no:cacheprovider; \
	elif [ -n "$$DOCKET_REQUIRE_ALL" ]; then echo "PostgreSQL is not reachable at $(PG_TEST_URL)"; exit 1; \
	else echo "SKIPPED: PostgreSQL tests (no server at $(PG_TEST_URL))"; fi

test-browser: $(STAMP)
	$(BIN)/pytest -q -m browser

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .

# Re-pin every dependency after editing pyproject.toml (needs uv).
lock:
	uv pip compile pyproject.toml --extra dev -p 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) var
