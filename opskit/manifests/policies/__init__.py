"""The project's policies over rendered objects: pods, network, Services, CRD kinds and the
platform apps."""
