//go:build tools

// Package tools pins the upstream programs this module builds (kube-apiserver, kubectl), so
// `go mod tidy` keeps their dependencies in go.sum.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
