"""The project's one version: read by both distributions' builds and by every ``--version``."""

__version__ = "0.1.0"
