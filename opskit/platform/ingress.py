"""The Ingress controller of the embedded cluster's real node: Traefik v3 (k8s/ingress/real-node),
the default Ingress controller of k3d/k3s too, from the pinned binary; HTTPS on host port
8443 of this machine, where k3d's load balancer answers as well (cluster.k3d.https_port)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.core import shell
from opskit.kube.kubectl import server_side_apply
from opskit.platform import images, pods

if TYPE_CHECKING:
    from opskit.clusters.connect import Connection
    from opskit.core.config import Config
    from opskit.kube.kubectl import Kube

MANIFESTS = Path("k8s") / "ingress" / "real-node"
NAMESPACE = "kube-system"
WORKLOAD = "deployment/traefik"
SELECTOR = "app.kubernetes.io/name=traefik"
HTTPS_PORT = 8443  # the websecure entry point's hostPort in k8s/ingress/real-node
ADDRESS = f"127.0.0.1:{HTTPS_PORT}"


def render(cfg: Config, image: str) -> list[dict]:
    from opskit.manifests import kustomize

    text = shell.run_step(kustomize.render_step(cfg.root / MANIFESTS)).stdout
    objects = kustomize.load_documents(text, str(MANIFESTS))
    return images.substitute(objects, {images.TRAEFIK.upstream: image})


def install(cfg: Config, target: Connection, report, dry_run: bool = False) -> None:
    """Build and load Traefik's image, apply its manifests, wait until it is ready."""
    from opskit.manifests.kustomize import dump

    image = images.ensure(images.TRAEFIK, cfg.tool_pins()["traefik"], report, dry_run)
    objects = render(cfg, image)
    report(f"{'would load' if dry_run else 'loading'} {image} into the real node")
    if not dry_run and target.cluster is not None:
        target.cluster.load_image(image)
    kube = target.kube
    kube.run(*server_side_apply(), stdin=dump(objects), mutates=True, dry_run=dry_run, timeout=60)
    if dry_run:
        return
    pods.replace_broken(kube, NAMESPACE, SELECTOR, report)
    report(f"waiting for Traefik in {NAMESPACE}")
    pods.wait_ready(kube, NAMESPACE, [WORKLOAD], SELECTOR, report)


def status(kube: Kube) -> list:
    """The controller, and every Ingress with its hosts and whether its TLS Secret exists."""
    from opskit.gitops.monitoring import Check

    result = kube.run("get", WORKLOAD, "-n", NAMESPACE, "-o", "json", check=False, timeout=30)
    if result.returncode != 0:
        return [Check(WORKLOAD, False, "absent; install it: `invoke ingress.install`")]
    obj = json.loads(result.stdout)
    ready = pods.workload_ready(obj)
    checks = [
        Check(f"{WORKLOAD} in {NAMESPACE}", ready, f"https://{ADDRESS}" if ready else "not ready")
    ]
    ingresses = kube.json("get", "ingresses", "-A", timeout=30).get("items", [])
    for ing in ingresses:
        meta, spec = ing["metadata"], ing.get("spec") or {}
        hosts = [r.get("host", "*") for r in spec.get("rules") or []]
        secrets = [t["secretName"] for t in spec.get("tls") or [] if t.get("secretName")]
        missing = [s for s in secrets if not _exists(kube, meta["namespace"], s)]
        detail = ", ".join(hosts) + (f"; TLS Secret {missing[0]} missing" if missing else "")
        checks.append(Check(f"Ingress {meta['namespace']}/{meta['name']}", not missing, detail))
    return checks


def _exists(kube: Kube, namespace: str, secret: str) -> bool:
    result = kube.run(
        "get", "secret", secret, "-n", namespace, "-o", "name", check=False, timeout=30
    )
    return result.returncode == 0
