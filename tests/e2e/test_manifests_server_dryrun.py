"""The API server of the kwok cluster accepts every rendered object (server-side dry run).

Schemas offline are one opinion; the real kube-apiserver of the pinned version is the
other. Objects whose API the cluster does not serve (a CRD not installed: ServiceMonitor,
Application, AppProject) cannot be checked here: each is named in a warning, never dropped.
"""

from __future__ import annotations

import warnings

import pytest

from opskit.core import config
from opskit.manifests import kustomize, validate

TARGETS = ["dev", "prod", "argocd"]
CRD_GROUPS = {"monitoring.coreos.com", "argoproj.io"}


@pytest.fixture(scope="module")
def cfg() -> config.Config:
    return config.load()


@pytest.fixture(scope="module")
def served(kube) -> set[str]:
    return set(kube.run("api-versions", timeout=30).stdout.split())


def rendered(cfg: config.Config, target: str) -> tuple[str, list[dict]]:
    if target == "argocd":
        return cfg.argocd.namespace, validate.argocd_objects(cfg)
    overlay = cfg.overlay(target)
    return overlay.namespace, kustomize.render_overlay(cfg, overlay)


def ensure_namespace(kube, name: str, objects: list[dict]) -> None:
    """The rendered Namespace object (or a bare one) applied for real, as a deploy would:
    a dry run cannot create the namespace the other objects are dry-run into."""
    namespace = next((o for o in objects if o["kind"] == "Namespace"), None)
    namespace = namespace or {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    kube.run(
        "apply",
        "--server-side",
        "--field-manager=opskit",
        "-f",
        "-",
        stdin=kustomize.dump([namespace]),
        timeout=60,
    )


@pytest.mark.parametrize("target", TARGETS)
def test_server_dry_run_accepts_every_built_in_object(cfg, kube, served, target):
    namespace, objects = rendered(cfg, target)
    checked = [o for o in objects if o["apiVersion"] in served]
    unchecked = [o for o in objects if o["apiVersion"] not in served]
    for obj in unchecked:
        warnings.warn(
            f"not checked by the API server: {target}/{obj['kind']}/"
            f"{obj['metadata']['name']} ({obj['apiVersion']} not served: CRD not "
            "installed)",
            stacklevel=1,
        )
    assert [
        o["kind"] for o in unchecked if o["apiVersion"].split("/")[0] not in CRD_GROUPS
    ] == [], "a built-in kind is not served by the cluster"
    if not checked:
        pytest.skip(f"{target}: every object needs a CRD this cluster lacks")
    ensure_namespace(kube, namespace, checked)
    result = kube.run(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=opskit",
        "--force-conflicts",
        "-f",
        "-",
        stdin=kustomize.dump(checked),
        timeout=120,
    )
    lines = result.stdout.splitlines()
    assert len(lines) == len(checked), result.stdout
    assert all(line.endswith("(server dry run)") for line in lines), result.stdout


def test_the_kwok_cluster_lacks_exactly_the_crd_kinds(cfg, served):
    """What the test above cannot check on a bare cluster, by name."""
    missing = {
        f"{t}/{o['kind']}/{o['metadata']['name']}"
        for t in TARGETS
        for o in rendered(cfg, t)[1]
        if o["apiVersion"] not in served
    }
    assert missing <= {
        "dev/ServiceMonitor/api",
        "prod/ServiceMonitor/api",
        "dev/ServiceMonitor/telemetry",
        "prod/ServiceMonitor/telemetry",
        "argocd/AppProject/gitops-lab",
        "argocd/Application/gitops-lab-dev",
        "argocd/Application/gitops-lab-prod",
        "argocd/AppProject/platform",  # k8s/platform: the root on clusters that run containers
        "argocd/Application/gitops-lab-monitoring",
    }


def test_diff_against_the_cluster_runs_and_names_what_it_skips(cfg, kube, served):
    from opskit.diff import live

    result = live.comparison(cfg, cfg.overlay("dev"), kube)
    expected = {
        f"{o['kind']}/{o['metadata']['name']}: API {o['apiVersion']} not served"
        for o in rendered(cfg, "dev")[1]
        if o["apiVersion"] not in served
    }
    assert set(result.skipped) - {s for s in result.skipped if s.startswith("Secrets: ")} == (
        expected
    )


FLOWS = {
    "default-deny",
    "allow-dns-egress",
    "api-to-postgres",
    "api-egress-postgres",
    "api-to-redis",
    "api-egress-redis",
    "ingress-to-api",
    "ingress-to-telemetry",
    "prometheus-to-api",
    "clients-to-mosquitto",
    "device-simulator-egress-mosquitto",
    "telemetry-egress",
    "telemetry-to-postgres",
    "prometheus-to-telemetry",
}


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_the_api_server_accepts_the_network_policies_and_refuses_a_broken_one(cfg, kube, target):
    namespace, objects = rendered(cfg, target)
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    assert {p["metadata"]["name"] for p in policies} == FLOWS
    ensure_namespace(kube, namespace, objects)
    dry_run = ("apply", "--server-side", "--dry-run=server", "--field-manager=opskit", "-f", "-")
    result = kube.run(*dry_run, stdin=kustomize.dump(policies), timeout=60)
    assert sorted(result.stdout.splitlines()) == sorted(
        f"networkpolicy.networking.k8s.io/{name} serverside-applied (server dry run)"
        for name in FLOWS
    )
    broken = next(p for p in policies if p["metadata"]["name"] == "api-to-postgres")
    broken["spec"]["ingress"][0]["ports"][0]["protocol"] = "ICMP"
    refused = kube.run(*dry_run, stdin=kustomize.dump([broken]), timeout=60, check=False)
    assert refused.returncode != 0
    assert 'Unsupported value: "ICMP"' in refused.stderr
