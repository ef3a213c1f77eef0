"""The Kubernetes release this project takes as its reference (``hack/kube/go.mod`` pins it).

The embedded server reports it as its version, and the real backend is built from it; a test
checks the two files agree.
"""

KUBE_VERSION = "v1.37.2"
