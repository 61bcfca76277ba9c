"""`invoke deploy`: plan and validate everything, apply, wait, roll back on failure.

Nothing reaches the cluster until the whole plan (tag, render, validation, decrypted
secrets, TLS) is built; apply is one server-side apply fed from memory through stdin.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from opskit import gitinfo, manifests, paths, rollback, rollout, shell, tools
from opskit.clusters.connect import Connection
from opskit.config import Config, Overlay
from opskit.errors import CommandFailed, OpsError
from opskit.kube import FIELD_MANAGER, Kube, api_versions

INSTALLS = {
    "monitoring.coreos.com": "invoke monitoring.install",
    "argoproj.io": "invoke argocd.install",
}
Notify = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    overlay: Overlay
    target: Connection
    image: str
    objects: list[dict]  # rendered, validated, served by the cluster
    unserved: list[str]  # `Kind/name: reason; install` lines
    private: list[bytes]  # decrypted Secrets and the TLS Secret, in memory only
    before: dict[str, rollout.Workload]  # the workloads as they were (empty for a dry run)

    @property
    def kube(self) -> Kube:
        return self.target.kube

    def documents(self) -> list[bytes]:
        """Everything the apply sends, as documents (the private ones stay in memory)."""
        return [manifests.dump(self.objects).encode(), *self.private]

    def apply_step(self) -> shell.Step:
        payload = "---\n".join([manifests.dump(self.objects), *(d.decode() for d in self.private)])
        return self.kube.step(
            "apply",
            "--server-side",
            # every object already passed the strict offline schemas in build_plan
            "--validate=false",
            f"--field-manager={FIELD_MANAGER}",
            "--force-conflicts",
            "--output=json",  # the applied objects: tells a no-op without another read
            "-f",
            "-",
            stdin=payload.encode(),
            mutates=True,
            timeout=180,
            what="apply",
        )


def preflight(cfg: Config, overlay: Overlay, context: str | None) -> Connection:
    """Tools, then the kube context the overlay allows (clusters.connect)."""
    from opskit import clusters

    tools.require("git", "kubectl", "sops")
    return clusters.connect(cfg, overlay, context)


def build_plan(
    cfg: Config,
    overlay: Overlay,
    target: Connection,
    allow_dirty: bool,
    notify: Notify,
    dry_run: bool = False,
) -> Plan:
    """Everything before the first write: any failure here leaves the cluster untouched.

    The independent parts (render + validate, decrypt, TLS, API discovery) run at once:
    each is mostly waiting on a tool process. A dry run writes nothing (no render cache,
    no certificate) and reads no workload snapshot.
    """
    from concurrent.futures import ThreadPoolExecutor

    from opskit import certs, secrets

    tag = gitinfo.image_tag(
        cfg.root,
        cfg.app.tag_length,
        allow_dirty=allow_dirty,
        protected=overlay.protected,
        what=f"deploy to {overlay.name}",
    )
    kube = target.kube
    with ThreadPoolExecutor(max_workers=4) as pool:
        rendered = pool.submit(_render_valid, cfg, overlay, tag.value, not dry_run)
        private = pool.submit(secrets.decrypted_secrets, cfg, overlay)
        tls = pool.submit(certs.tls_secret, cfg, overlay, dry_run) if overlay.hosts else None
        versions = pool.submit(api_versions, kube)
        before = None if dry_run else pool.submit(rollout.snapshot, kube, overlay.namespace)
        objects, docs = rendered.result(), private.result()
        served, unserved = split_served(versions.result(), objects)
        if tls is not None and any(o["kind"] == "Ingress" for o in objects):
            docs.append(tls.result())
    _check_private(cfg, overlay, docs)
    _report_unserved(overlay, unserved, notify)
    image = f"{cfg.app.image}:{tag.value}"
    return Plan(overlay, target, image, served, unserved, docs, before.result() if before else {})


def _render_valid(cfg: Config, overlay: Overlay, tag: str, cached: bool) -> list[dict]:
    from opskit import validate

    objects = manifests.render_overlay(cfg, overlay, tag=tag, cached=cached)
    problems = validate.validate_objects(cfg, overlay, objects)
    if problems:
        raise OpsError(
            f"{overlay.name}: {len(problems)} validation problem(s), nothing applied:\n"
            + "\n".join(problems),
            "fix them and run again",
        )
    return objects


def _check_private(cfg: Config, overlay: Overlay, docs: list[bytes]) -> None:
    """Decrypted Secrets get the same strict schema check as the rendered objects."""
    from opskit import validate, yamlio

    objects = [yamlio.load(doc, "a decrypted Secret") for doc in docs]
    problems = [shell.redact(p) for p in validate.schema_problems(cfg, overlay, objects)]
    if problems:
        raise OpsError(
            f"{overlay.name}: {len(problems)} problem(s) in decrypted Secrets, nothing "
            "applied:\n" + "\n".join(problems),
            "fix them with `invoke secrets.edit`",
        )


def split_served(versions: set[str], objects: list[dict]) -> tuple[list[dict], list[str]]:
    """Objects whose API the cluster serves, and a line for each one it does not, with the
    command that installs that API."""
    served, unserved = manifests.by_api(objects, versions)
    lines = []
    for obj in unserved:
        group = obj["apiVersion"].split("/")[0]
        install = INSTALLS.get(group, f"install the CRD of {group}")
        lines.append(
            f"{obj['kind']}/{obj['metadata']['name']}: API {obj['apiVersion']} "
            f"not served by this cluster; install it with `{install}`"
        )
    return served, lines


def _report_unserved(overlay: Overlay, unserved: list[str], notify: Notify) -> None:
    if not unserved:
        return
    if overlay.missing_api == "fail":
        raise OpsError(
            f"{overlay.name}: objects whose API the cluster lacks, nothing applied:\n"
            + "\n".join(unserved),
            f"install the APIs, or set overlays.{overlay.name}.missing_api: warn",
        )
    for line in unserved:
        notify(f"warning: not applied: {line}")


def deploy(
    cfg: Config,
    name: str,
    *,
    context: str | None = None,
    timeout: float = 300,
    dry_run: bool = False,
    allow_dirty: bool = False,
    notify: Notify = print,
) -> dict[str, rollout.Workload]:
    """Deploy the overlay; returns the workloads as they run afterwards (empty for a dry run,
    which prints the apply it would run and changes nothing anywhere)."""
    overlay = cfg.overlay(name)
    target = preflight(cfg, overlay, context)
    if dry_run:
        plan = build_plan(cfg, overlay, target, allow_dirty, notify, dry_run=True)
        _announce(cfg, plan, notify, dry_run=True)
        shell.run_step(plan.apply_step(), dry_run=True)
        return {}
    from opskit import lock as locking

    # one deploy per overlay and cluster at a time; other clusters are not blocked
    lock = paths.state_dir() / "locks" / f"deploy-{target.context}-{overlay.name}.lock"
    with locking.exclusive(lock, wait=timeout, what=f"a deploy to {overlay.name}", notify=notify):
        plan = build_plan(cfg, overlay, target, allow_dirty, notify)
        _announce(cfg, plan, notify)
        final = _apply_and_wait(plan, timeout, notify)
    _summary(plan, final, notify)
    return final


def _announce(cfg: Config, plan: Plan, notify: Notify, dry_run: bool = False) -> None:
    """Ship the image where the cluster runs containers; say what is about to happen."""
    if plan.target.runs_containers:
        _ship_image(cfg, plan, notify, dry_run)
    else:
        notify(
            f"image {plan.image}: not built (this cluster simulates pods and runs no "
            "containers; `invoke image.build --force` builds anyway)"
        )
    notify(
        f"plan: {len(plan.objects)} objects + {len(plan.private)} secrets (decrypted in "
        f"memory) -> {plan.kube.context}, namespace {plan.overlay.namespace}"
    )


def _ship_image(cfg: Config, plan: Plan, notify: Notify, dry_run: bool) -> None:
    """Build the image if missing and load it into the target cluster (the one `--context`
    named); a cluster the suite did not start pulls it from the registry instead."""
    from opskit import image

    ref = image.ImageRef(*plan.image.rsplit(":", 1))
    if not image.exists_locally(ref):
        notify(f"building {ref}")
        shell.run_step(image.build_step(cfg, ref, gitinfo.head(cfg.root)), dry_run=dry_run)
    if plan.target.cluster is None:
        notify(f"{plan.kube.context} pulls {ref} from its registry (`invoke image.push`)")
        return
    plan.target.cluster.load_image(str(ref), dry_run=dry_run)


def _apply_and_wait(plan: Plan, timeout: float, notify: Notify) -> dict[str, rollout.Workload]:
    """Apply, then wait for what changed; returns the workloads' state when it is known.
    A rejected apply or a failed rollout puts every object back as it was (restore)."""
    from opskit import restore

    namespace, before = plan.overlay.namespace, plan.before
    started = time.monotonic()
    previous = restore.capture(plan.kube, plan.documents())
    try:
        applied = shell.run_step(plan.apply_step()).stdout
    except CommandFailed as failed:
        rollback.after_failed_apply(plan.kube, plan.overlay, before, previous, failed, notify)
    after = rollout.unchanged(before, applied)
    if after is None:  # something is new or changed: read its live state
        after = rollout.snapshot(plan.kube, namespace)
    fresh = rollout.changed(before, after)
    todo = fresh + [w for w in after.values() if not w.ready and w not in fresh]
    if not todo:
        notify(
            f"nothing changed: every workload was already at this revision and ready "
            f"({time.monotonic() - started:.1f}s)"
        )
        return after
    try:
        return rollout.wait(plan.kube, namespace, todo, timeout, notify, first=after)
    except rollout.RolloutFailed as failed:
        rollback.after_failed_deploy(plan.kube, plan.overlay, before, previous, failed, notify)


def _summary(plan: Plan, now: dict[str, rollout.Workload], notify: Notify) -> None:
    for workload in now.values():
        notify(
            f"running: {workload.ref} revision {workload.revision} "
            f"image {', '.join(workload.images)}"
        )
    for host in plan.overlay.hosts:
        notify(f"url: https://{host}/api/health")
