"""The platform as pods on the embedded cluster's real node: Prometheus (prometheus-operator)
and the Ingress controller (Traefik), from their upstream manifests, with images built here
from the pinned binaries `invoke tools.install` builds."""
