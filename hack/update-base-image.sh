#!/usr/bin/env bash
# Pin the Dockerfile's base image by digest: resolve the tag of `ARG PYTHON_IMAGE=` (e.g.
# python:3.11-slim) to the digest of its multi-platform index, with crane or docker buildx,
# and rewrite the line to python:3.11-slim@sha256:<digest> (the tag stays, for readers).
# Needs a registry; run it again to move to the newest build of the tag.
#   hack/update-base-image.sh            # DOCKERFILE=path to pin another file
set -euo pipefail

fail() {
	echo "update-base-image: $*" >&2
	exit 1
}

dockerfile=${DOCKERFILE:-$(dirname "$0")/../Dockerfile}
line=$(grep -m1 '^ARG PYTHON_IMAGE=' "$dockerfile") || fail "no 'ARG PYTHON_IMAGE=' line in $dockerfile"
reference=${line#ARG PYTHON_IMAGE=}
tag=${reference%%@*}

if command -v crane >/dev/null 2>&1; then
	digest=$(crane digest "$tag" 2>&1) || fail "crane digest $tag failed: ${digest//$'\n'/ }"
elif command -v docker >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1; then
	digest=$(docker buildx imagetools inspect "$tag" --format '{{.Manifest.Digest}}' 2>&1) ||
		fail "docker buildx imagetools inspect $tag failed: ${digest//$'\n'/ }"
else
	fail "cannot resolve $tag: neither crane nor docker buildx is installed"
fi
[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || fail "$tag resolved to '$digest', not a sha256 digest"

sed -i "s|^ARG PYTHON_IMAGE=.*|ARG PYTHON_IMAGE=$tag@$digest|" "$dockerfile"
echo "$dockerfile: PYTHON_IMAGE=$tag@$digest"
