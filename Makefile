# Two commands a newcomer needs: `make demo` and `make test`. Everything else hangs off them.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PYTEST_WORKERS ?= 2
# Trust the platform's certificate store (corporate or intercepting proxies add their CA there).
export UV_SYSTEM_CERTS := 1
export UV_NATIVE_TLS := 1

# The real kube-apiserver the suites also run against (pinned in hack/kube/go.mod).
KUBE_VERSION := $(shell awk '$$1 == "require" && $$2 == "k8s.io/kubernetes" {print $$3}' hack/kube/go.mod)
APISERVER ?= embedded
CONFORMANCE_SCENARIOS ?= 300

.PHONY: all venv lock demo test lint types unit unit-kube kube conformance bench soak clean

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

demo: venv $(if $(filter kube,$(APISERVER)),kube)
	CIMP_APISERVER=$(APISERVER) $(BIN)/python -m node_agent.demo

# kube-apiserver, kubectl, etcd and the client-go probe from pinned Go modules, into
# .tools/kube/$(KUBE_VERSION)/ (rebuilt only when hack/kube or hack/etcd change).
kube:
	@hack/build-kube.sh

lint: venv
	$(BIN)/ruff check sdk agent tests bench
	$(BIN)/ruff format --check sdk agent tests bench

types: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q

# The same suite against the real kube-apiserver: every test that talks to an API server
# through the `apiserver` fixtures (the others do not depend on the backend and are deselected).
unit-kube: venv kube
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q --apiserver=kube

test: lint types unit unit-kube

# Differential conformance: generated scenarios sent to both servers, every answer compared.
conformance: venv kube
	CIMP_SCENARIOS=$(CONFORMANCE_SCENARIOS) $(BIN)/pytest -q -p no:randomly tests/conformance --apiserver=kube

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
