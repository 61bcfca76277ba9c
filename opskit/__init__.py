"""opskit: the GitOps Lab automation suite (invoke tasks, nox sessions, one command layer)."""

__version__ = "0.1.0"
