# Two commands a newcomer needs: `make demo` and `make test`. Everything else hangs off them.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PYTEST_WORKERS ?= 2
# Trust the platform's certificate store (corporate or intercepting proxies add their CA there).
export UV_SYSTEM_CERTS := 1
export UV_NATIVE_TLS := 1

.PHONY: all venv lock demo test lint types unit bench soak clean

all: test

.tools/bin/uv:
	$(PY) -m venv .tools
	.tools/bin/pip install -q --disable-pip-version-check "uv==0.13.9"

# Hash-pinned lock files (regenerate with `make lock`); the project itself is installed editable.
$(BIN)/python: pyproject.toml requirements-dev.lock | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PY) $(VENV)
	$(UV) pip install --quiet --python $(BIN)/python --require-hashes -r requirements-dev.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(BIN)/python

lock: | $(UV)
	$(UV) pip compile -q pyproject.toml --generate-hashes --python-version 3.11 -o requirements.lock
	$(UV) pip compile -q pyproject.toml --group dev --generate-hashes --python-version 3.11 -o requirements-dev.lock

venv: $(BIN)/python

demo: venv
	$(BIN)/python -m node_agent.demo

lint: venv
	$(BIN)/ruff check sdk agent tests bench
	$(BIN)/ruff format --check sdk agent tests bench

types: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q

test: lint types unit

bench: venv
	$(BIN)/python bench/run_all.py

# Longer than CI allows: the fault and agent suites ten times over (flakes show up as
# failures), then a 2,000-agent fleet through a SIGKILL and a SIGTERM restart.
SOAK_ROUNDS ?= 10
soak: venv
	for i in $$(seq $(SOAK_ROUNDS)); do \
		echo "soak round $$i/$(SOAK_ROUNDS)"; \
		$(BIN)/pytest -q -n $(PYTEST_WORKERS) -p no:cacheprovider tests/faults tests/agent || exit 1; \
	done
	$(BIN)/python bench/fleet.py --agents 2000 --signal KILL
	$(BIN)/python bench/fleet.py --agents 2000 --signal TERM

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
