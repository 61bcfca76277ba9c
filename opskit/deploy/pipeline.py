"""`invoke deploy`: plan and validate everything, apply, wait, roll back on failure.

Nothing reaches the cluster until the whole plan (tag, render, validation, decrypted
secrets, TLS) is built; apply is one server-side apply fed from memory through stdin.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import NamedTuple

from opskit.clusters.connect import Connection
from opskit.core import gitinfo, shell, toolcheck
from opskit.core.config import Config, Overlay
from opskit.core.errors import CommandFailed, OpsError
from opskit.core.progress import Notify
from opskit.deploy import report
from opskit.deploy.restore import Before
from opskit.kube import applied, rollout
from opskit.kube.kubectl import Kube, server_side_apply
from opskit.kube.reads import api_versions
from opskit.kube.ref import ObjectRef
from opskit.manifests import kustomize

INSTALLS = {
    "monitoring.coreos.com": "invoke monitoring.install",
    "argoproj.io": "invoke argocd.install",
}


@dataclass(frozen=True)
class Deployed:
    """What a deploy did: the workloads as they run afterwards, each applied object's outcome
    by `Kind/name` (created, changed or unchanged), and the workloads that rolled out."""

    workloads: dict[ObjectRef, rollout.Workload]
    objects: dict[str, str]
    rolled_out: tuple[str, ...] = ()  # kind/name, as kubectl spells them


@dataclass(frozen=True, kw_only=True)
class Plan:
    overlay: Overlay
    target: Connection
    image: str
    commit: str  # the full SHA the image tag names (the tree's HEAD, `-dirty-` or not)
    objects: list[dict]  # rendered, validated, served by the cluster
    unserved: list[str]  # `Kind/name: reason; install` lines
    private: list[bytes]  # decrypted Secrets and the TLS Secrets, in memory only
    before: dict[ObjectRef, rollout.Workload]  # the workloads as they were (empty for a dry run)
    previous: Before | None = None  # every object of the plan as it was (None: dry run)
    prints: dict[ObjectRef, str] = field(default_factory=dict)  # ref -> fingerprint
    unchanged: tuple[dict, ...] = ()  # live objects the last deploy left as they are: not sent
    identities: tuple[dict, ...] = ()  # every object of the plan as kind/name/namespace only

    @property
    def kube(self) -> Kube:
        return self.target.kube

    def sent(self) -> list[dict]:
        """The rendered objects the apply sends (not those known to be unchanged)."""
        skip = {ObjectRef.of(o) for o in self.unchanged}
        return [o for o in self.objects if ObjectRef.of(o) not in skip]

    def payload(self) -> str:
        """What the apply sends: the Namespace, then the Secrets (decrypted, in memory), then
        the rest. The server applies in this order: a pod made before its Secret exists waits
        in CreateContainerConfigError for the kubelet's next retry (on a real node, seconds)."""
        sent = self.sent()
        first = [o for o in sent if o.get("kind") == "Namespace"]
        rest = [o for o in sent if o.get("kind") != "Namespace"]
        parts = [kustomize.dump(first)] if first else []
        parts += [d.decode() for d in self.private]
        return "---\n".join([*parts, kustomize.dump(rest)])

    def apply_step(self) -> shell.Step:
        payload = self.payload()
        # --validate=false: every object already passed the strict offline schemas in build_plan;
        # --output=json: the applied objects, which tell a no-op without another read
        return self.kube.step(
            *server_side_apply("--validate=false", "--output=json"),
            stdin=payload.encode(),
            mutates=True,
            timeout=180,
            what="apply",
        )


def preflight(cfg: Config, overlay: Overlay, context: str | None) -> Connection:
    """Tools, then the kube context the overlay allows (clusters.connect)."""
    from opskit import clusters

    toolcheck.require("git", "kubectl", "sops")
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

    from opskit.secrets import certs

    kube = target.kube
    with ThreadPoolExecutor(max_workers=4) as pool:
        # git answers while the reads run; the certificates wait for its verdict
        tagged = pool.submit(
            gitinfo.image_tag,
            cfg.root,
            cfg.app.tag_length,
            allow_dirty=allow_dirty,
            protected=overlay.protected,
            what=f"deploy to {overlay.name}",
        )
        rendered = pool.submit(
            kustomize.render_overlay, cfg, overlay, None, not dry_run, target.components
        )
        versions = pool.submit(api_versions, kube)
        before = None if dry_run else pool.submit(rollout.snapshot, kube, overlay.namespace)
        tag = tagged.result()
        tls = pool.submit(certs.tls_secret, cfg, overlay, dry_run) if overlay.hosts else None
        broker = pool.submit(certs.tls_secret, cfg, overlay, dry_run, certs.broker_cert(overlay))
        objects = rendered.result()
        kustomize.pin_overlay(cfg, overlay, objects, tag.value)
        valid = pool.submit(_validate, cfg, overlay, objects, not dry_run)  # beside the reads
        served, unserved = split_served(versions.result(), objects)
        extra = []  # the TLS Secrets: built from the certificate files, in memory
        if tls is not None and any(o["kind"] == "Ingress" for o in objects):
            extra.append(tls.result())
        if any(ObjectRef.of(o).kind_name == "Service/mqtt" for o in objects):  # the mqtt component
            extra.append(broker.result())
        try:
            changes = _changes(cfg, overlay, target, served, extra, dry_run)
        except OpsError:
            valid.result()  # an invalid object explains a failed read better: say that first
            raise
        valid.result()  # a problem stops the deploy here: nothing was written yet
    _check_private(cfg, overlay, changes.private)
    _report_unserved(overlay, unserved, notify)
    return Plan(
        overlay=overlay,
        target=target,
        image=f"{cfg.app.image}:{tag.value}",
        objects=served,
        unserved=unserved,
        private=changes.private,
        before=before.result() if before else {},
        previous=changes.previous,
        prints=changes.prints,
        unchanged=changes.unchanged,
        identities=changes.identities,
        commit=tag.commit,
    )


class Changes(NamedTuple):
    """What `_changes` found: the plan's objects as they are live (None: a dry run reads
    nothing), those the last deploy left unchanged, every fingerprint, the private
    documents to send, and every object as kind/name/namespace only."""

    previous: Before | None
    unchanged: tuple[dict, ...]
    prints: dict[ObjectRef, str]
    private: list[bytes]
    identities: tuple[dict, ...]


def _changes(
    cfg: Config,
    overlay: Overlay,
    target: Connection,
    served: list[dict],
    extra: list[bytes],
    dry_run: bool,
) -> Changes:
    """What is live, what the last deploy left unchanged (opskit.kube.applied: not sent again,
    a Secret not even decrypted), the fingerprints of everything, and the private documents
    to send (decrypted Secrets, TLS Secrets)."""
    from opskit.core import yamlio
    from opskit.deploy import restore
    from opskit.secrets import sops

    files = sops.secret_files(overlay)
    stubs = {path: sops.stub(path, overlay) for path in files}
    extra_docs = [yamlio.load(doc, "a TLS Secret") for doc in extra]
    prints = {ObjectRef.of(o): applied.fingerprint(o) for o in served}
    prints |= {ObjectRef.of(stubs[p]): applied.fingerprint(p.read_bytes()) for p in files}
    prints |= {
        ObjectRef.of(d): applied.fingerprint(b) for d, b in zip(extra_docs, extra, strict=True)
    }
    previous, unchanged = None, []
    ids = [restore.stub(o) for o in (*served, *stubs.values(), *extra_docs)]
    if not dry_run:
        previous = restore.capture(target.kube, ids)
        record = applied.load(target.context, overlay.name)
        live = {ObjectRef.of(o): o for o in previous.live}
        unchanged = [live[k] for k, p in prints.items() if applied.same(record, k, p, live.get(k))]
    skip = {ObjectRef.of(o) for o in unchanged}
    need = [p for p in files if ObjectRef.of(stubs[p]) not in skip]
    docs = sops.decrypted_secrets(cfg, overlay, only=need) if need or not files else []
    docs += [b for d, b in zip(extra_docs, extra, strict=True) if ObjectRef.of(d) not in skip]
    return Changes(previous, tuple(unchanged), prints, docs, tuple(ids))


def _validate(cfg: Config, overlay: Overlay, objects: list[dict], keep: bool = True) -> None:
    """Schemas and policies, unless these very objects passed before (opskit.manifests.validcache);
    `keep` records a pass (a dry run writes nothing)."""
    from opskit.manifests import validcache

    digest = validcache.key(cfg, overlay, objects)
    if validcache.known(digest):
        return
    from opskit.manifests import validate

    problems = validate.validate_objects(cfg, overlay, objects)
    if problems:
        raise OpsError(
            f"{overlay.name}: {len(problems)} validation problem(s), nothing applied:\n"
            + "\n".join(problems),
            "fix them and run again",
        )
    if keep:
        validcache.remember(digest)


def _check_private(cfg: Config, overlay: Overlay, docs: list[bytes]) -> None:
    """Decrypted Secrets get the same strict schema check as the rendered objects."""
    if not docs:  # a no-op deploy decrypts nothing
        return
    from opskit.core import yamlio
    from opskit.manifests import validate

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
    served, unserved = kustomize.by_api(objects, versions)
    lines = []
    for obj in unserved:
        group = obj["apiVersion"].split("/")[0]
        install = INSTALLS.get(group)
        how = f"install it with `{install}`" if install else f"install the CRD of {group}"
        lines.append(
            f"{ObjectRef.of(obj).kind_name}: API {obj['apiVersion']} "
            f"not served by this cluster; {how}"
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
    record: report.DeployRecord | None = None,
) -> Deployed:
    """Deploy the overlay; returns what it did (empty for a dry run, which prints the apply
    it would run and changes nothing anywhere). `record` (opskit.deploy.report) collects what
    happened, for --report."""
    overlay = cfg.overlay(name)
    record = record or report.DeployRecord(name)
    notify = record.tee(notify)
    target = preflight(cfg, overlay, context)
    record.context, record.dry_run = target.context, dry_run
    if dry_run:
        with record.check("plan"):
            plan = build_plan(cfg, overlay, target, allow_dirty, notify, dry_run=True)
        report.planned(record, plan)
        _announce(cfg, plan, notify, dry_run=True)
        shell.run_step(plan.apply_step(), dry_run=True)
        return Deployed({}, {})
    from opskit.core import lock

    # one deploy per overlay and cluster at a time; other clusters are not blocked
    lock_file = lock.deploy_lock(target.context, overlay.name)
    with lock.exclusive(lock_file, wait=timeout, what=f"a deploy to {overlay.name}", notify=notify):
        with record.check("plan"):
            plan = build_plan(cfg, overlay, target, allow_dirty, notify)
        report.planned(record, plan)
        _announce(cfg, plan, notify)
        done = _apply_and_wait(plan, timeout, notify, record)
    _summary(plan, done.workloads, notify)
    return done


def _announce(cfg: Config, plan: Plan, notify: Notify, dry_run: bool = False) -> None:
    """Ship the image where the cluster runs containers; say what is about to happen."""
    cluster = plan.target.cluster
    if cluster is not None and cluster.has_real_node():
        from opskit.images import embedded

        sent = plan.sent()
        embedded.ship(cfg, sent, plan.commit, cluster, notify, dry_run)
        cluster.prepare(sent, plan.overlay.namespace, notify, dry_run)
        notify(f"{cfg.app.name}: {embedded.API_STAYS_SIMULATED}")
    elif plan.target.runs_containers:
        _ship_image(cfg, plan, notify, dry_run)
    else:
        notify(
            f"image {plan.image}: not built (this cluster simulates pods and runs no "
            "containers; `invoke image.build --force` builds anyway)"
        )
    spared = (
        f"; {len(plan.unchanged)} unchanged since the last deploy, not sent"
        if (plan.unchanged)
        else ""
    )
    notify(
        f"plan: {len(plan.sent())} objects + {len(plan.private)} secrets (decrypted in "
        f"memory) -> {plan.kube.context}, namespace {plan.overlay.namespace}{spared}"
    )


def _ship_image(cfg: Config, plan: Plan, notify: Notify, dry_run: bool) -> None:
    """Build the image if missing and load it into the target cluster (the one `--context`
    named); a cluster the suite did not start pulls it from the registry instead."""
    from opskit.images import images

    for ref in images.refs(cfg, plan.image.rsplit(":", 1)[1]):
        if not images.exists_locally(ref):
            notify(f"building {ref}")
            shell.run_step(images.build_step(cfg, ref, plan.commit), dry_run=dry_run)
        if plan.target.cluster is None:
            notify(f"{plan.kube.context} pulls {ref} from its registry (`invoke image.push`)")
            continue
        plan.target.cluster.load_image(str(ref), dry_run=dry_run)


def _apply_and_wait(
    plan: Plan, timeout: float, notify: Notify, record: report.DeployRecord
) -> Deployed:
    """Apply what changed, then wait for the workloads it changed; returns the workloads'
    state when it is known. A rejected apply or a failed rollout puts every object back as
    it was (restore), and the record of what was applied is dropped (opskit.kube.applied)."""
    from opskit.deploy import restore

    namespace, before = plan.overlay.namespace, plan.before
    started, since = time.monotonic(), report.now()
    previous = plan.previous  # read by build_plan, before the first write
    assert previous is not None, "a dry-run plan is never applied"
    context, name = plan.kube.context, plan.overlay.name
    output = '{"kind": "List", "items": []}'
    if plan.sent() or plan.private:
        applied.forget(context, name)  # until this deploy has succeeded
        try:
            with record.check("apply"):
                output = shell.run_step(plan.apply_step()).stdout
        except CommandFailed as failed:
            from opskit.deploy import rollback

            rollback.after_failed_apply(plan.kube, plan.overlay, before, previous, failed, notify)
    result = _with_unchanged(output, plan.unchanged)
    record.applied(result, since)
    objects = restore.outcomes(previous, result)
    after = rollout.unchanged(before, result)
    if after is None:  # something is new or changed: read its live state
        after = rollout.snapshot(plan.kube, namespace)
    fresh = rollout.changed(before, after)
    todo = fresh + [w for w in after.values() if not w.ready and w not in fresh]
    for workload in after.values():
        record.rollout(workload, "unchanged")
    if not todo:
        _remember(plan, output)
        notify(
            f"nothing changed: every workload was already at this revision and ready "
            f"({time.monotonic() - started:.1f}s)"
        )
        return Deployed(after, objects)
    try:
        final = rollout.wait(
            plan.kube, namespace, todo, timeout, notify, first=after, on_ready=record.ready
        )
    except rollout.RolloutFailed as failed:
        record.rollout(failed.workload, "failed", detail=str(failed))
        from opskit.deploy import rollback

        with report.restoring(record, before, todo):
            rollback.after_failed_deploy(plan.kube, plan.overlay, before, previous, failed, notify)
    _remember(plan, output)
    return Deployed(final, objects, tuple(w.ref.resource for w in todo))


def _with_unchanged(output: str, unchanged: tuple[dict, ...]) -> str:
    """The apply's answer (`-o json`) plus the objects it was spared, as one List: what the
    server holds for every object of the plan."""
    from opskit.deploy import restore

    items = [i for i in restore.items(output) if i.get("kind")] + list(unchanged)
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def _remember(plan: Plan, output: str) -> None:
    """After a deploy that succeeded: the fingerprints of what the cluster now holds, with
    the resourceVersions read once the workloads are ready (their status writes bump them).
    Nothing is written when nothing was sent."""
    from opskit.deploy import restore

    if not (plan.sent() or plan.private):
        return
    live = restore.capture(plan.kube, list(plan.identities)).live
    applied.save(plan.kube.context, plan.overlay.name, plan.prints, list(live))


def _summary(plan: Plan, now: dict[ObjectRef, rollout.Workload], notify: Notify) -> None:
    for workload in now.values():
        notify(
            f"running: {workload.ref.resource} revision {workload.revision} "
            f"image {', '.join(workload.images)}"
        )
    if plan.overlay.hosts:  # the api's host; the others are its neighbours' (telemetry)
        notify(f"url: https://{plan.overlay.hosts[0]}/api/health")
