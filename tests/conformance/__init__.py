"""Differential conformance: the embedded API server against a real kube-apiserver."""
