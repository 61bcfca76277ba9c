"""Checks of the platform Applications in k8s/platform: a Helm chart source at the pins of
opskit.yaml (`monitoring:`) with its values from this repository, so the chart ArgoCD
syncs and the one `invoke monitoring.install` installs are the same release."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from opskit.manifests.kustomize import MONITORING_VALUES

if TYPE_CHECKING:
    from opskit.core.config import Config

Problem = tuple[str, str]  # (path, message)
VALUES_REF = "values"  # `ref:` of the repository source; valueFiles say $values/<path>
SYNC_OPTIONS = (
    "CreateNamespace=true",  # the chart's namespace is not part of the chart
    "ServerSideApply=true",  # the operator's CRDs exceed the client-side annotation limit
)


def is_chart_application(app: dict) -> bool:
    """Whether an Application renders a Helm chart from a chart repository."""
    spec = app.get("spec") or {}
    return any("chart" in s for s in spec.get("sources") or [spec.get("source") or {}])


def check_monitoring(
    cfg: Config, app: dict, repos: set[str], namespaces: set[str]
) -> Iterator[Problem]:
    """The chart source at monitoring.chart/version/release, values from this repository,
    into monitoring.namespace; adds the chart repository and the namespace to what its
    AppProject must allow."""
    mon = cfg.monitoring
    if mon is None:
        yield ("spec.sources", "deploys a Helm chart, but opskit.yaml has no monitoring: section")
        return
    repos.add(mon.repo_url)
    namespaces.add(mon.namespace)
    spec = app.get("spec") or {}
    sources = spec.get("sources") or []
    charts = [(i, s) for i, s in enumerate(sources) if "chart" in s]
    if len(charts) != 1:
        yield ("spec.sources", "must be one chart source plus one `ref: values` source")
        return
    index, chart = charts[0]
    helm = chart.get("helm") or {}
    yield from _equal(
        f"spec.sources[{index}]",
        (
            ("repoURL", chart.get("repoURL"), mon.repo_url, "monitoring.repo_url"),
            ("chart", chart.get("chart"), mon.chart, "monitoring.chart"),
            ("targetRevision", chart.get("targetRevision"), mon.version, "monitoring.version"),
            ("helm.releaseName", helm.get("releaseName"), mon.release, "monitoring.release"),
        ),
    )
    values = f"${VALUES_REF}/{MONITORING_VALUES.as_posix()}"
    if helm.get("valueFiles") != [values]:
        yield (f"spec.sources[{index}].helm.valueFiles", f"must be [{values}] (as helm's -f)")
    if not (cfg.root / MONITORING_VALUES).is_file():
        yield (
            f"spec.sources[{index}].helm.valueFiles",
            f"{MONITORING_VALUES} is not a file of this repo",
        )
    yield from _values_source(cfg, sources)
    namespace = (spec.get("destination") or {}).get("namespace")
    if namespace != mon.namespace:
        yield (
            "spec.destination.namespace",
            f'is "{namespace}", expected "{mon.namespace}" (monitoring.namespace in opskit.yaml)',
        )
    options = (spec.get("syncPolicy") or {}).get("syncOptions") or []
    for option in SYNC_OPTIONS:
        if option not in options:
            yield ("spec.syncPolicy.syncOptions", f"must include {option}")


def _values_source(cfg: Config, sources: list[dict]) -> Iterator[Problem]:
    refs = [(i, s) for i, s in enumerate(sources) if s.get("ref") == VALUES_REF]
    if not refs:
        yield ("spec.sources", f"no source with `ref: {VALUES_REF}` (this repository)")
        return
    index, source = refs[0]
    yield from _equal(
        f"spec.sources[{index}]",
        (
            ("repoURL", source.get("repoURL"), cfg.project.repo_url, "project.repo_url"),
            (
                "targetRevision",
                source.get("targetRevision"),
                cfg.project.revision,
                "project.revision",
            ),
        ),
    )


def _equal(where: str, checks) -> Iterator[Problem]:
    for field, value, wanted, name in checks:
        if value != wanted:
            yield (f"{where}.{field}", f'is "{value}", expected "{wanted}" ({name} in opskit.yaml)')
