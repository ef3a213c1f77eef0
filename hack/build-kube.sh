#!/usr/bin/env bash
# Builds the reference binaries from the pinned Go modules (hack/kube, hack/etcd) into
# .tools/kube/<version>/: kube-apiserver, kubectl, etcd and the client-go impersonation probe.
# Rebuilds only when a module file changed (a stamp holds their hash). Nothing is downloaded
# but Go modules, through the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' hack/kube/go.mod)
out=".tools/kube/${version}"
stamp="${out}/.stamp"
inputs=$(cat hack/kube/go.mod hack/kube/go.sum hack/etcd/go.mod hack/etcd/go.sum hack/build-kube.sh \
  hack/kube/impersonation-probe/*.go hack/etcd/*.go | sha256sum | cut -d' ' -f1)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$inputs" ]; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "make kube: no Go toolchain on PATH (need Go >= 1.26 and the Go module proxy) to build kube-apiserver ${version}; the embedded backend works without it" >&2
  exit 2
fi

minor=${version#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X ${pkg}.gitVersion=${version} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
  ldflags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
done

mkdir -p "$out"
tmp=$(mktemp -d "${out}/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
echo "make kube: building kube-apiserver, kubectl, etcd ${version} from Go modules (a cold build takes several minutes)" >&2
if ! (cd hack/kube && go build -buildvcs=false -trimpath -ldflags="$ldflags" -o "../../$tmp/" \
        k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl ./impersonation-probe) \
   || ! (cd hack/etcd && go build -buildvcs=false -trimpath -ldflags="-s -w" -o "../../$tmp/etcd" .); then
  echo "make kube: go build failed (see above); is the Go module proxy reachable? (go env GOPROXY: $(go env GOPROXY))" >&2
  exit 2
fi
mv -f "$tmp"/* "$out"/
echo "$inputs" > "$stamp"
echo "make kube: built into ${out} in $(( $(date +%s) - start )) s" >&2
