"""The embedded API server's internals. Public entry point: ``constrained_impersonation.testing``.

Layout (kube-apiserver's handler chain, outermost first):
``app.py`` builds the aiohttp application; ``filters/`` holds one middleware per stage
(request info, authentication, audit, impersonation, authorization); ``handlers.py`` serves
resources from ``storage/``; ``authz/`` holds the Node and RBAC authorizers.
"""
