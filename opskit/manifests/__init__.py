"""Kustomize renders, their caches, and validation (schemas and the policies/)."""
