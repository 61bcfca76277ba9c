"""NetworkPolicy policies: default-deny per namespace, narrow allow rules, and every
Service reachable through some policy.

How a component adds its own flows: it ships NetworkPolicies that select its pods by label
(`podSelector.matchLabels`) and allow exactly the peers and ports it needs, on both ends of
each flow (an egress rule on the client, an ingress rule on the server). Policies add up,
so nothing else changes; these checks hold the new policies to the same rules.
"""

from __future__ import annotations

from collections.abc import Iterator

from opskit.manifests.kustomize import containers
from opskit.manifests.policies.pods import pod_spec

Problem = tuple[str, str]
DNS_PORT = 53


# -- one NetworkPolicy ----------------------------------------------------------------------


def check(obj: dict) -> Iterator[Problem]:
    """Allow rules name their peers and ports; only DNS egress may cover every pod."""
    spec = obj.get("spec") or {}
    if _is_default_deny(obj):
        return
    everyone = not (spec.get("podSelector") or {})
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for index, rule in enumerate(spec.get(direction) or []):
            where = f"spec.{direction}[{index}]"
            if not rule.get(peers_key):
                yield (f"{where}.{peers_key}", "missing; it would allow every peer")
            if not rule.get("ports"):
                yield (f"{where}.ports", "missing; it would allow every port")
            for peer_index, peer in enumerate(rule.get(peers_key) or []):
                yield from _peer(f"{where}.{peers_key}[{peer_index}]", peer)
            if everyone and not _dns_only(direction, rule):
                yield (
                    "spec.podSelector",
                    "is empty (every pod) for a flow other than DNS egress; "
                    "select the pods that need it by label",
                )


def _peer(where: str, peer: dict) -> Iterator[Problem]:
    block = peer.get("ipBlock") or {}
    if block.get("cidr") in ("0.0.0.0/0", "::/0"):
        yield (f"{where}.ipBlock.cidr", "allows the whole internet; name the network")
    if "namespaceSelector" in peer and not (peer["namespaceSelector"] or {}):
        yield (f"{where}.namespaceSelector", "is empty (every namespace); name the namespace")
    if not peer:
        yield (where, "is empty (every pod of the namespace); select pods by label")


def _dns_only(direction: str, rule: dict) -> bool:
    ports = rule.get("ports") or []
    return direction == "egress" and bool(ports) and all(p.get("port") == DNS_PORT for p in ports)


def _is_default_deny(obj: dict) -> bool:
    spec = obj.get("spec") or {}
    return (
        not (spec.get("podSelector") or {})
        and {"Ingress", "Egress"} <= set(spec.get("policyTypes") or [])
        and not spec.get("ingress")
        and not spec.get("egress")
    )


# -- across the objects of one target -------------------------------------------------------


def check_together(objects: list[dict]) -> Iterator[tuple[dict, str, str]]:
    policies = [o for o in objects if o.get("kind") == "NetworkPolicy"]
    workloads = [o for o in objects if pod_spec(o)]
    namespace = next((o for o in objects if o.get("kind") == "Namespace"), None)
    if namespace and workloads and not any(_is_default_deny(p) for p in policies):
        yield (  # only on a whole rendering (with its Namespace), not on a single object
            namespace,
            "(namespace)",
            "no default-deny NetworkPolicy (podSelector {}, policyTypes [Ingress, Egress]); "
            "add k8s/base/networkpolicy-default-deny.yaml's twin",
        )
    pods = [_template_labels(o) for o in workloads]
    for policy in policies:
        yield from ((policy, p, m) for p, m in _dangling(policy, pods))
    for service in (o for o in objects if o.get("kind") == "Service"):
        yield from ((service, p, m) for p, m in _unreachable(service, workloads, policies))


def _dangling(policy: dict, pods: list[dict]) -> Iterator[Problem]:
    """A selector that matches no pod of this target is a typo or a leftover."""
    spec = policy.get("spec") or {}
    selectors = [("spec.podSelector", spec.get("podSelector") or {})]
    for direction, key in (("ingress", "from"), ("egress", "to")):
        for index, rule in enumerate(spec.get(direction) or []):
            for peer_index, peer in enumerate(rule.get(key) or []):
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    where = f"spec.{direction}[{index}].{key}[{peer_index}].podSelector"
                    selectors.append((where, peer["podSelector"] or {}))
    for where, selector in selectors:
        match = selector.get("matchLabels") or {}
        if match and not any(_matches(match, labels) for labels in pods):
            wanted = ", ".join(f"{k}={v}" for k, v in match.items())
            yield (where, f"{wanted} selects no pod of this namespace")


def _unreachable(service: dict, workloads: list[dict], policies: list[dict]) -> Iterator[Problem]:
    """Under default-deny a Service port is dead unless some policy admits it."""
    selector = (service.get("spec") or {}).get("selector") or {}
    targets = [w for w in workloads if selector and _matches(selector, _template_labels(w))]
    if not targets:
        return
    for index, port in enumerate((service.get("spec") or {}).get("ports") or []):
        wanted = port.get("targetPort", port.get("port"))
        names = set().union(*(_port_aliases(w, wanted) for w in targets))
        admitted = any(
            _admits(policy, _template_labels(w), names) for w in targets for policy in policies
        )
        if not admitted:
            yield (
                f"spec.ports[{index}]",
                f"port {wanted} of the selected pods is admitted by no NetworkPolicy "
                "ingress rule (default-deny drops it); add a policy for the flow",
            )


def _admits(policy: dict, labels: dict, ports: set) -> bool:
    spec = policy.get("spec") or {}
    if not _matches((spec.get("podSelector") or {}).get("matchLabels") or {}, labels):
        return False
    return any(
        not rule.get("ports")  # no ports: every port (check() reports that separately)
        or any(entry.get("port") in ports for entry in rule["ports"])
        for rule in spec.get("ingress") or []
    )


def _port_aliases(workload: dict, wanted: object) -> set:
    """The port's name and number as the pod declares them (either may be in a policy)."""
    for _path, container in containers(workload):
        for port in container.get("ports") or []:
            if wanted in (port.get("name"), port.get("containerPort")):
                return {port.get("name"), port.get("containerPort")} - {None}
    return {wanted}


def _template_labels(obj: dict) -> dict:
    if obj.get("kind") == "Pod":
        return (obj.get("metadata") or {}).get("labels") or {}
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}


def _matches(match: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in match.items())
