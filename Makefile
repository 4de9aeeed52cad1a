# Two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install lock run serve test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Installed from the lock file, every package pinned with its hashes: plain pip, nothing
# else to install first. Reinstalled only when a lock file changes.
$(VENV)/.installed: requirements.lock requirements-dev.lock | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

# A production host needs only the production lock (no test tools).
$(VENV)/.installed-production: requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	touch $@

# requirements*.txt are the lists people edit; `make lock` resolves them into the lock
# files (uv, for every platform, keeping the versions already locked unless
# LOCK_ARGS=--upgrade or LOCK_ARGS="--upgrade-package NAME"). The dev lock is held to
# the production one, so both install the same version of every shared package.
UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --generate-hashes --python-version 3.11 \
	--custom-compile-command "make lock" $(LOCK_ARGS)
lock: | $(VENV)/.installed
	$(UV_COMPILE) requirements.txt -o requirements.lock
	$(UV_COMPILE) requirements-dev.txt -c requirements.lock -o requirements-dev.lock

# Front-end libraries, from the npm registry through the lock file.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

# The demo runs in development mode on the embedded defaults (SQLite, file-system
# broker) and may reach the sandbox on loopback; the environment can override each.
run: export DEBUG ?= true
run: export ALLOW_PRIVATE_HOSTS ?= true
run: install
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start

# The production web server: DEBUG off whatever the environment says, static files
# collected into STATIC_ROOT and served by WhiteNoise, gunicorn on WEB_HOST:WEB_PORT with
# WEB_CONCURRENCY processes (GUNICORN_CMD_ARGS adds any other gunicorn option). Set the
# production settings first (README, "Running in production") and migrate.
serve: export DEBUG := false
serve: export WEB_CONCURRENCY ?= 2
serve: $(VENV)/.installed-production node_modules/.installed
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	$(BIN)/gunicorn config.wsgi --bind "$${WEB_HOST:-127.0.0.1}:$${WEB_PORT:-8000}" --access-logfile -

# The suite under coverage, worker and server subprocesses included (.coveragerc: one
# data file per process, combined after the run). `make test ARGS="tests/builder -x"`
# runs part of it. Exits with pytest's status: a failure, or no test collected (5), fails.
test: install
	@$(BIN)/coverage erase
	@status=0; $(BIN)/coverage run -m pytest $(ARGS) || status=$$?; \
	$(BIN)/coverage combine -q && $(BIN)/coverage report || { [ $$status -ne 0 ] || status=1; }; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests (exit status 5)." >&2; fi; \
	exit $$status

# Style, formatting and the import contracts of .importlinter (the apps' layering).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Benchmarks print their figures; they need PostgreSQL and Redis on 127.0.0.1.
bench: install
	DEBUG=true $(BIN)/python bench/preview.py
	DEBUG=true $(BIN)/python bench/dashboard.py
	$(BIN)/python bench/sync_throughput.py
	$(BIN)/python bench/rate_limit.py
	$(BIN)/python bench/dispatch.py
	$(BIN)/python bench/sandbox_data.py
	$(BIN)/python bench/masking.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .coverage .coverage.* htmlcov
