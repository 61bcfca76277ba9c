"""The project's container images: build, push, load, each tagged by its commit."""
