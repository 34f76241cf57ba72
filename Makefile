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
	$(PY) -m pip install --quiet -e '.[server,test]'
	touch $(STAMP)

venv: $(STAMP)

## demo: create .venv, install, migrate and seed var/govshare.db, serve on http://127.0.0.1:8080
## with 临江市公安局's front-end node beside it (its log: var/demo/node/node.log), which runs
## 公安局's adapter; the centre's scheduler runs the others (var/demo/adapters); and 临湖区's own
## platform on port 8090 (var/demo/district, its log serve.log), a catalogue node (目录管理节点)
## whose published catalogue flows up into the city's
DEMO_NODE = $${GOVSHARE_VAR:-var}/demo/node
DEMO_DISTRICT = $${GOVSHARE_VAR:-var}/demo/district
DEMO_ADAPTERS = $${GOVSHARE_ADAPTERS:-$${GOVSHARE_VAR:-var}/demo/adapters}
demo: $(STAMP)
	$(VENV)/bin/govshare demo seed
	@pids=""; adapters=""; \
	if [ -f $(DEMO_DISTRICT)/district.env ]; then \
	  (set -a; . "$(DEMO_DISTRICT)/district.env"; set +a; exec $(VENV)/bin/govshare serve --no-scheduler) \
	    > $(DEMO_DISTRICT)/serve.log 2>&1 & pids="$$pids $$!"; \
	  echo "目录管理节点 (临湖区's platform): $$(grep ^GOVSHARE_PORT= $(DEMO_DISTRICT)/district.env | cut -d= -f2) on $${GOVSHARE_HOST:-127.0.0.1}, log $(DEMO_DISTRICT)/serve.log"; \
	fi; \
	if [ -f $(DEMO_NODE)/node.toml ]; then \
	  $(VENV)/bin/govshare node run $(DEMO_NODE)/node.toml > $(DEMO_NODE)/node.log 2>&1 & pids="$$pids $$!"; \
	  echo "前置交换节点 (临江市公安局): govshare node run $(DEMO_NODE)/node.toml, log $(DEMO_NODE)/node.log"; \
	  adapters="GOVSHARE_ADAPTERS=$(DEMO_ADAPTERS)"; \
	fi; \
	trap 'kill $$pids 2>/dev/null' EXIT INT TERM; \
	env $$adapters $(VENV)/bin/govshare serve --demo-provider

## test: the whole suite (SQLite always; PostgreSQL/PHP when present, required with REQUIRE_SERVICES=1)
test: $(STAMP)
	$(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist load --durations=15

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench-directory: $(STAMP)
	$(PY) -m bench.directory

clean:
	rm -rf $(VENV) var build *.egg-info
