# syntax=docker/dockerfile:1
# The repository's one image, cimp: every command the project ships (cimp, cimp-node-agent,
# cimp-deputy), referenced by both deploy/daemonset/ (the default entry point, the node agent)
# and deploy/deputy/ (`command: ["cimp-deputy"]`) under the same name and tag:
#
#   docker build -t cimp:0.1.0 .
#
# (`make image` runs exactly that.) Stage 1 installs only hash-pinned wheels (no compiler, no
# index lookups outside the locks): the build backend (requirements-build.lock: hatchling and
# its dependencies) into a build-only virtualenv, the runtime dependencies (requirements.lock)
# into /opt/venv (the SDK's and the samples' only: the embedded API server is a separate
# distribution, server/, that the image never installs). The project's wheel is then built by that pinned backend without build
# isolation, so nothing unpinned is fetched, and installed with --no-deps --no-index. Stage 2
# is a fresh base with /opt/venv copied in, pip/setuptools/wheel removed, no caches, running
# as a numeric non-root user (Kubernetes' runAsNonRoot can only verify numeric users).
# The base: hack/update-base-image.sh resolves the tag to its digest (crane or docker buildx,
# needs a registry) and rewrites the line below to python:3.11-slim@sha256:...
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv --without-pip /opt/build \
    && python -m venv --without-pip /opt/venv
COPY requirements-build.lock requirements.lock ./
RUN pip --python /opt/build/bin/python install --no-cache-dir --require-hashes --no-deps \
        --only-binary=:all: -r requirements-build.lock \
    && pip --python /opt/venv/bin/python install --no-cache-dir --require-hashes --no-deps \
        --only-binary=:all: -r requirements.lock
COPY pyproject.toml hatch_build.py README.md ./
COPY sdk/ sdk/
COPY agent/ agent/
# The project's wheel, by the locked backend (--no-build-isolation: pip fetches no backend of
# its own); its dependencies are all installed above, --no-deps --no-index keeps it that way.
# Bytecode is compiled now because the root file system is read-only at run time.
RUN pip --python /opt/build/bin/python wheel --no-cache-dir --no-deps --no-build-isolation \
        --wheel-dir /tmp/wheels . \
    && pip --python /opt/venv/bin/python install --no-cache-dir --no-deps --no-index \
        /tmp/wheels/*.whl \
    && /opt/venv/bin/python -m compileall -q -j 0 /opt/venv/lib \
    && /opt/venv/bin/cimp --version \
    && /opt/venv/bin/cimp-node-agent --version \
    && /opt/venv/bin/cimp-deputy --version

FROM ${PYTHON_IMAGE} AS runtime
ARG PYTHON_IMAGE
LABEL org.opencontainers.image.title="cimp" \
      org.opencontainers.image.description="Kubernetes constrained impersonation (KEP-5284): cimp-node-agent (deploy/daemonset), cimp-deputy (deploy/deputy) and the cimp tools in one image" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
RUN python -m pip uninstall -y -q pip setuptools wheel \
    && rm -rf /root/.cache /tmp/* /var/lib/apt/lists/*
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
EXPOSE 9102 8443
ENTRYPOINT ["cimp-node-agent"]
