# syntax=docker/dockerfile:1
# The node agent image referenced by deploy/daemonset/ (image cimp-node-agent:0.1.0):
#
#   docker build -t cimp-node-agent:0.1.0 .
#
# The same image also carries the VM-console deputy; deploy/deputy/ runs it with
# `command: ["cimp-deputy"]`.
#
# Stage 1 installs the hash-pinned dependencies (requirements.lock, every package a wheel:
# no compiler is needed) and the project into a virtualenv without pip. Stage 2 is a fresh
# slim base with that virtualenv copied in, pip/setuptools/wheel removed, no caches, running
# as a numeric non-root user (Kubernetes' runAsNonRoot can only verify numeric users).
# Pin the base by digest in production: --build-arg PYTHON_IMAGE=python:3.11-slim@sha256:...
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv --without-pip /opt/venv
COPY requirements.lock ./
RUN pip --python /opt/venv/bin/python install --no-cache-dir --require-hashes --no-deps \
        --only-binary=:all: -r requirements.lock
COPY pyproject.toml README.md ./
COPY sdk/ sdk/
COPY agent/ agent/
# The project itself (not on an index, so not hash-pinned); its dependencies are all
# installed above, --no-deps keeps it that way. Bytecode is compiled now because the root
# file system is read-only at run time.
RUN pip --python /opt/venv/bin/python install --no-cache-dir --no-deps . \
    && /opt/venv/bin/python -m compileall -q -j 0 /opt/venv/lib \
    && /opt/venv/bin/cimp-node-agent --version

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="cimp-node-agent" \
      org.opencontainers.image.description="Node agent that sees only its node's Pods through KEP-5284 constrained impersonation" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN python -m pip uninstall -y -q pip setuptools wheel \
    && rm -rf /root/.cache /tmp/* /var/lib/apt/lists/*
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
EXPOSE 9102
ENTRYPOINT ["cimp-node-agent"]
