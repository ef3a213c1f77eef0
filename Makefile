# Two commands a newcomer needs: `make demo` and `make test`. Everything else hangs off them.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PYTEST_WORKERS ?= 2
# The passes against kube-apiserver mostly wait on it and etcd (informers, barriers): one more
# worker than cores overlaps those waits (kube pass 4m43 -> ~3m25 on 2 cores, ~350 MB each).
KUBE_WORKERS ?= 3
# Trust the platform's certificate store (corporate or intercepting proxies add their CA there).
export UV_SYSTEM_CERTS := 1
export UV_NATIVE_TLS := 1

# The real kube-apiserver the suites also run against (pinned in hack/kube/go.mod).
KUBE_VERSION := $(shell awk '$$1 == "require" && $$2 == "k8s.io/kubernetes" {print $$3}' hack/kube/go.mod)
APISERVER ?= embedded
CONFORMANCE_SCENARIOS ?= 300

.PHONY: all venv lock demo test lint types unit unit-kube kube conformance bench soak clean dist peer compat compat-ci resources

all: test

.tools/bin/uv:
	$(PY) -m venv .tools
	.tools/bin/pip install -q --disable-pip-version-check "uv==0.13.9"

# Hash-pinned lock files (regenerate with `make lock`); the project's two distributions (the
# SDK with the samples, and the embedded server in server/) are installed editable.
$(BIN)/python: pyproject.toml server/pyproject.toml requirements-dev.lock | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PY) $(VENV)
	$(UV) pip install --quiet --python $(BIN)/python --require-hashes -r requirements-dev.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e . -e ./server
	@touch $(BIN)/python

# `make lock` rewrites the three lock files exactly as committed (--no-cache: uv would reuse the
# editable server's cached metadata and miss a new dependency), header included (it names
# `make lock`, whatever uv binary and flags ran). requirements-build.lock pins the build
# backend (pyproject's [build-system] requires) that the image build installs.
LOCK_COMPILE = $(UV) pip compile -q --no-cache --generate-hashes --python-version 3.11 \
	--python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock"
# requirements.lock is what the image installs: the SDK and samples only, no server.
LOCK_NO_EMIT = --no-emit-package constrained-impersonation --no-emit-package constrained-impersonation-server
lock: | $(UV)
	$(LOCK_COMPILE) pyproject.toml -o requirements.lock
	$(LOCK_COMPILE) $(LOCK_NO_EMIT) requirements-dev.in --group pyproject.toml:dev -o requirements-dev.lock
	$(PY) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
		| $(LOCK_COMPILE) - -o requirements-build.lock

venv: $(BIN)/python

demo: venv $(if $(filter kube,$(APISERVER)),kube)
	CIMP_APISERVER=$(APISERVER) $(BIN)/python -m node_agent.demo

# The two distributions users install: constrained-impersonation (SDK, node agent, deputy) and
# constrained-impersonation-server (the embedded API server, its `testing` extra), each as an
# sdist and a wheel built from that sdist, then their metadata checked as PyPI would.
dist: venv
	rm -rf dist
	$(UV) build --quiet --build-constraint requirements-build.lock -o dist .
	$(UV) build --quiet --build-constraint requirements-build.lock -o dist server
	$(BIN)/twine check --strict dist/*

# The one image both deploy/ directories reference (cimp:<pyproject version>). Without a
# reachable docker engine: one line naming the command, and a non-zero exit.
VERSION := $(shell awk -F'"' '$$1 == "__version__ = " {print $$2; exit}' sdk/constrained_impersonation/_version.py)
IMAGE ?= cimp:$(VERSION)
DOCKER ?= docker
IMAGE_BUILD = $(DOCKER) build -t $(IMAGE) .
.PHONY: image
image:
	$(if $(shell $(DOCKER) info >/dev/null 2>&1 && echo up),,$(error make image: no docker engine reachable ($(DOCKER) info failed): run `$(IMAGE_BUILD)` where one is))
	$(IMAGE_BUILD)

# kube-apiserver, kubectl, etcd and the client-go probe from pinned Go modules, into
# .tools/kube/$(KUBE_VERSION)/ (rebuilt only when hack/kube or hack/etcd change).
kube:
	@hack/build-kube.sh

lint: venv
	$(BIN)/ruff check sdk server agent tests bench docs/_hooks
	$(BIN)/ruff format --check sdk server agent tests bench docs/_hooks

types: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q

# The same suite against the real kube-apiserver: every test that talks to an API server
# through the `apiserver` fixtures (the others do not depend on the backend and are deselected).
unit-kube: venv kube
	$(BIN)/pytest -n $(KUBE_WORKERS) -q --apiserver=kube

# The SDK's tests on the oldest and newest supported kubernetes client, on Python 3.11 and the
# newest CPython on the machine, each in a fresh venv under .tools/compat (docs/compatibility.md).
compat: | $(UV)
	UV=$(UV) hack/compat.sh

# What make test runs of that matrix: every combination but 3.11 with the locked client, which
# the embedded pass already is.
compat-ci: | $(UV)
	UV=$(UV) COMPAT_PYTHONS=3.11 COMPAT_CLIENTS=oldest hack/compat.sh
	UV=$(UV) COMPAT_PYTHONS=newest hack/compat.sh

# Lint, types and the docs site, the suite on the embedded server, the SDK's on the other supported clients
# and Pythons, the same suite on the real kube-apiserver,
# then the differential (CONFORMANCE_SCENARIOS, 300 by default; 2,000 or more by hand).
test: lint types docs kube unit compat-ci unit-kube conformance

# Differential conformance: generated scenarios sent to both servers, every answer compared.
conformance: venv kube
	CIMP_SCENARIOS=$(CONFORMANCE_SCENARIOS) $(BIN)/pytest -n $(KUBE_WORKERS) -q -p no:randomly tests/conformance --apiserver=kube

# Regenerate the embedded server's built-in resource data (discovery, OpenAPI v2/v3, field
# selectors, table columns, protobuf field numbers) from kube-apiserver $(KUBE_VERSION) and
# the Go module cache, into server/cimp_apiserver/data/.
resources: venv kube
	$(BIN)/python hack/gen-resources.py

# The official Python client's e2e tests (kubernetes-client/python, kubernetes/e2e_test) against
# both servers: `python-client e2e: embedded P/45, kube Q/45`. Needs a checkout of the client
# (PYTHON_CLIENT_SRC=..., else cloned into .tools/python-client when GitHub is reachable).
peer: venv kube
	$(BIN)/python hack/peer_suite.py

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
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache dist

include docs/docs.mk
