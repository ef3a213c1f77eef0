"""CustomResourceDefinitions (``apiextensions.k8s.io/v1``) in the embedded API server.

What apiextensions-apiserver does, kept apart from the built-in machinery: the CRD model and
its validation (:mod:`.validation`), structural schemas with pruning, defaulting and embedded
resources (:mod:`.structural`), the validation of custom resources with kube's messages
(:mod:`.values`), Go's regular expressions (:mod:`.regex`) and value printing (:mod:`.goformat`).
"""
