# govshare — the two set-up commands: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
# more workers than cores: a fifth of the suite's time is spent waiting (servers, subprocesses, databases)
TEST_WORKERS ?= 3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test venv seed serve lint bench-directory clean

$(STAMP): setup.cfg pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "govshare needs $(PYTHON) (spyne 2.14 does not import on Python 3.12+)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## demo: create .venv, install, migrate and seed var/govshare.db, serve on http://127.0.0.1:8080
demo: $(STAMP)
	$(VENV)/bin/govshare demo seed
	$(VENV)/bin/govshare serve --demo-provider

## test: the whole suite (SQLite always; PostgreSQL/PHP when present, required with REQUIRE_SERVICES=1)
test: $(STAMP)
	$(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist load --durations=15

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench-directory: $(STAMP)
	$(PY) -m bench.directory

clean:
	rm -rf $(VENV) var build *.egg-info
