"""Hardening policies (opskit/manifests/policies/network.py and pods.py): each rule fails with its
exact line on a rendered overlay broken in exactly that way."""

from __future__ import annotations

import copy

import pytest

from opskit.manifests import validate

CONTAINER = "spec.template.spec.containers[0]"
CONTEXT = f"{CONTAINER}.securityContext"


def problems(cfg, objects, target="dev") -> list[str]:
    found = validate.check_target(cfg, validate.Target.of(cfg.overlay(target)), objects)
    return sorted(str(v) for v in found)


def find(objects, kind, name):
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_the_real_overlays_pass_every_hardening_rule(cfg, render, name):
    assert problems(cfg, render(name), name) == []


# -- NetworkPolicies --------------------------------------------------------------------------


def test_a_namespace_without_default_deny_fails(cfg, render):
    objects = [o for o in render("dev") if o["metadata"]["name"] != "default-deny"]
    assert problems(cfg, objects) == [
        "dev/Namespace/gitops-lab-dev: (namespace): no default-deny NetworkPolicy "
        "(podSelector {}, policyTypes [Ingress, Egress]); add "
        "k8s/base/networkpolicy-default-deny.yaml's twin"
    ]


def test_a_default_deny_that_covers_only_ingress_is_not_one(cfg, render):
    objects = render("dev")
    find(objects, "NetworkPolicy", "default-deny")["spec"]["policyTypes"] = ["Ingress"]
    assert problems(cfg, objects)[0].startswith(
        "dev/Namespace/gitops-lab-dev: (namespace): no default-deny NetworkPolicy"
    )


def test_allow_rules_must_name_peers_and_ports(cfg, render):
    objects = render("dev")
    rule = find(objects, "NetworkPolicy", "api-to-postgres")["spec"]["ingress"][0]
    del rule["from"], rule["ports"]
    assert problems(cfg, objects) == [
        "dev/NetworkPolicy/api-to-postgres: spec.ingress[0].from: missing; it would allow "
        "every peer",
        "dev/NetworkPolicy/api-to-postgres: spec.ingress[0].ports: missing; it would allow "
        "every port",
    ]


def test_open_peers_fail(cfg, render):
    objects = render("dev")
    peers = find(objects, "NetworkPolicy", "ingress-to-api")["spec"]["ingress"][0]["from"]
    peers[0] = {"ipBlock": {"cidr": "0.0.0.0/0"}}
    peers[1]["namespaceSelector"] = {}
    peers.append({})
    where = "dev/NetworkPolicy/ingress-to-api: spec.ingress[0].from"
    assert problems(cfg, objects) == [
        f"{where}[0].ipBlock.cidr: allows the whole internet; name the network",
        f"{where}[1].namespaceSelector: is empty (every namespace); name the namespace",
        f"{where}[2]: is empty (every pod of the namespace); select pods by label",
    ]


def test_only_dns_egress_may_select_every_pod(cfg, render):
    objects = render("dev")
    find(objects, "NetworkPolicy", "api-egress-redis")["spec"]["podSelector"] = {}
    assert problems(cfg, objects) == [
        "dev/NetworkPolicy/api-egress-redis: spec.podSelector: is empty (every pod) for a "
        "flow other than DNS egress; select the pods that need it by label"
    ]


def test_a_selector_that_matches_no_pod_fails(cfg, render):
    objects = render("dev")
    policy = find(objects, "NetworkPolicy", "api-to-postgres")
    policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"] = {
        "app.kubernetes.io/name": "apii"
    }
    assert problems(cfg, objects) == [
        "dev/NetworkPolicy/api-to-postgres: spec.ingress[0].from[0].podSelector: "
        "app.kubernetes.io/name=apii selects no pod of this namespace"
    ]


def test_a_service_no_policy_admits_fails(cfg, render):
    objects = [o for o in render("dev") if o["metadata"]["name"] != "api-to-redis"]
    assert problems(cfg, objects) == [
        "dev/Service/redis: spec.ports[0]: port redis of the selected pods is admitted by no "
        "NetworkPolicy ingress rule (default-deny drops it); add a policy for the flow"
    ]


def test_a_component_adds_its_own_flow_with_its_own_policy(cfg, render):
    """A new workload + Service fails until its component ships the policy for its flow."""

    objects = render("dev")
    broker = copy.deepcopy(find(objects, "Deployment", "redis"))
    service = copy.deepcopy(find(objects, "Service", "redis"))
    policy = copy.deepcopy(find(objects, "NetworkPolicy", "api-to-redis"))
    labels = {"app.kubernetes.io/name": "broker"}
    for obj in (broker, service, policy):
        obj["metadata"]["name"] = "broker"
    broker["spec"]["selector"]["matchLabels"] = labels
    broker["spec"]["template"]["metadata"]["labels"].update(labels)
    service["spec"]["selector"] = labels
    policy["spec"]["podSelector"]["matchLabels"] = labels
    assert problems(cfg, [*objects, broker, service]) == [
        "dev/Service/broker: spec.ports[0]: port redis of the selected pods is admitted by no "
        "NetworkPolicy ingress rule (default-deny drops it); add a policy for the flow"
    ]
    assert problems(cfg, [*objects, broker, service, policy]) == []


# -- pods -------------------------------------------------------------------------------------


def test_identical_liveness_and_readiness_probes_fail(cfg, render):
    objects = render("dev")
    container = find(objects, "StatefulSet", "postgres")["spec"]["template"]["spec"]
    container = container["containers"][0]
    container["livenessProbe"]["exec"] = container["readinessProbe"]["exec"]
    assert problems(cfg, objects) == [
        f"dev/StatefulSet/postgres: {CONTAINER}.livenessProbe: is the same check as "
        "readinessProbe: a busy container would be restarted; make liveness a cheaper, "
        "more patient check"
    ]


def test_replicas_must_be_spread_over_nodes(cfg, render):
    objects = render("prod")
    pod = find(objects, "Deployment", "api")["spec"]["template"]["spec"]
    del pod["topologySpreadConstraints"]
    pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0][
        "podAffinityTerm"
    ]["topologyKey"] = "topology.kubernetes.io/zone"
    assert problems(cfg, objects, "prod") == [
        "prod/Deployment/api: spec.template.spec: 3 replicas without "
        "topologySpreadConstraints or podAntiAffinity on kubernetes.io/hostname selecting "
        "its own pods; spread them over nodes"
    ]
    del pod["affinity"]
    selector = {"matchLabels": {"app.kubernetes.io/name": "api"}}
    spread = {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "labelSelector": selector}
    pod["topologySpreadConstraints"] = [{**spread, "whenUnsatisfiable": "DoNotSchedule"}]
    assert problems(cfg, objects, "prod") == []


def test_ephemeral_storage_and_empty_dirs_must_be_bounded(cfg, render):
    objects = render("dev")
    pod = find(objects, "Deployment", "api")["spec"]["template"]["spec"]
    del pod["containers"][0]["resources"]["limits"]["ephemeral-storage"]
    del pod["volumes"][0]["emptyDir"]["sizeLimit"]
    assert problems(cfg, objects) == [
        f"dev/Deployment/api: {CONTAINER}.resources.limits.ephemeral-storage: missing; "
        "bound the container's logs and writable layer",
        "dev/Deployment/api: spec.template.spec.volumes[0].emptyDir.sizeLimit: missing; "
        "bound every emptyDir (it is node disk or memory)",
    ]


def test_security_context_must_be_restricted(cfg, render):
    objects = render("dev")
    pod = find(objects, "Deployment", "redis")["spec"]["template"]["spec"]
    context = pod["containers"][0]["securityContext"]
    context.update(privileged=True, allowPrivilegeEscalation=True, readOnlyRootFilesystem=False)
    context["capabilities"] = {"add": ["SYS_ADMIN", "NET_BIND_SERVICE"]}
    del pod["securityContext"]["seccompProfile"]
    pod["hostNetwork"] = True
    pod["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    who = "dev/Deployment/redis"
    assert problems(cfg, objects) == [
        f"{who}: {CONTEXT}.allowPrivilegeEscalation: must be false",
        f"{who}: {CONTEXT}.capabilities.add: SYS_ADMIN not allowed; only NET_BIND_SERVICE",
        f"{who}: {CONTEXT}.capabilities.drop: must contain ALL",
        f"{who}: {CONTEXT}.privileged: must not be true",
        f"{who}: {CONTEXT}.readOnlyRootFilesystem: must be true; mount an emptyDir where the "
        "image writes (e.g. /tmp)",
        f"{who}: {CONTEXT}.seccompProfile.type: must be RuntimeDefault (on the container or "
        "the pod)",
        f"{who}: spec.template.spec.hostNetwork: must not be true (restricted Pod Security)",
        f"{who}: spec.template.spec.volumes[1].hostPath: not allowed (restricted Pod "
        "Security); use an emptyDir or a PVC",
    ]


def test_a_container_seccomp_profile_satisfies_the_rule(cfg, render):
    objects = render("dev")
    pod = find(objects, "Deployment", "redis")["spec"]["template"]["spec"]
    del pod["securityContext"]["seccompProfile"]
    pod["containers"][0]["securityContext"]["seccompProfile"] = {"type": "RuntimeDefault"}
    assert problems(cfg, objects) == []
