"""Kubernetes manifests in k8s/: render, validate, pin the image tag, diff two commits."""

from invoke import task

from opskit.tasks._common import (
    CONTEXT_HELP,
    DRY_RUN_HELP,
    OVERLAY_HELP,
    connect,
    load_config,
    opskit_task,
    say,
)

TAG_HELP = "image tag to pin (the 12-character commit sha); default: the overlay's own pin"


@task(help={"overlay": OVERLAY_HELP, "tag": TAG_HELP})
@opskit_task
def render(c, overlay="dev", tag=None):
    """Render an overlay with kustomize and print the YAML (Secrets are not part of it)."""
    from opskit.core import args
    from opskit.manifests import kustomize

    tag = args.image_tag(tag, "--tag")
    cfg = load_config(c)
    print(kustomize.render_text(cfg, cfg.overlay(overlay), tag=tag), end="")


@task(default=True, help={"overlay": OVERLAY_HELP + "; default: every overlay and k8s/argocd"})
@opskit_task
def validate(c, overlay=None):
    """Check schemas (Kubernetes version of opskit.yaml) and policies; list every problem."""
    import time

    from opskit.core.errors import OpsError
    from opskit.manifests import validate

    started = time.monotonic()
    cfg = load_config(c)
    report = validate.validate_all(cfg, [overlay] if overlay else None)
    for violation in sorted(report.violations):
        print(violation)
    took = f"{time.monotonic() - started:.2f}s"
    if report.violations:
        raise OpsError(
            f"{len(report.violations)} problem(s) in {', '.join(report.targets)} ({took})",
            "fix the lines above, then run `invoke manifests.validate`",
        )
    say(
        f"valid: {', '.join(report.targets)} ({report.objects} objects, Kubernetes "
        f"{cfg.kubernetes.version} schemas, no plaintext Secret under k8s/) in {took}"
    )


@task(
    name="set-image",
    help={
        "overlay": OVERLAY_HELP,
        "tag": "image tag to pin, e.g. the 12-character commit sha",
        "dry_run": DRY_RUN_HELP,
    },
)
@opskit_task
def set_image(c, overlay=None, tag=None, dry_run=False):
    """Pin the app image tag in an overlay's kustomization.yaml (comments and order kept)."""
    from opskit.core import args
    from opskit.core.errors import OpsError
    from opskit.manifests import kustomize

    if not overlay or not tag:
        raise OpsError(
            "--overlay and --tag are required",
            "e.g. `invoke manifests.set-image --overlay=dev "
            "--tag=$(git rev-parse --short=12 HEAD)`",
        )
    tag = args.image_tag(tag, "--tag")
    cfg = load_config(c)
    change = kustomize.set_image(cfg, cfg.overlay(overlay), tag, dry_run=dry_run)
    where = change.path.relative_to(cfg.root)
    if not change.changed:
        say(f"{where} already pins {cfg.app.image}:{tag}")
    elif dry_run:
        say(f"[dry-run] would pin {cfg.app.image}:{tag} in {where} (was {change.old})")
    else:
        say(f"pinned {cfg.app.image}:{tag} in {where} (was {change.old})")


DIFF_HELP = {
    "base": "git ref to compare from (branch, tag, sha), e.g. origin/main; offline",
    "head": "git ref to compare to; default: the working tree (like `git diff REF`)",
    "overlay": OVERLAY_HELP + "; default (or `all`): every overlay and k8s/argocd",
    "format": "text (default) or markdown (a pull-request comment / step summary)",
    "live": "compare the overlay (and its Secrets, masked) with the current cluster instead: "
    "a server-side dry run, the comparison `invoke status` reports",
    "tag": "with --live: the image tag to compare (12-character sha); default: the current "
    "commit's, as `invoke deploy` pins it",
    "context": CONTEXT_HELP + " (with --live)",
    "step_summary": "also append the Markdown to $GITHUB_STEP_SUMMARY (when it is set)",
    "exit_zero": "exit 0 even when something differs (for a CI step that only reports)",
}
FORMATS = ("text", "markdown")


@task(help=DIFF_HELP)
@opskit_task
def diff(
    c,
    base=None,
    head=None,
    overlay=None,
    format="text",
    live=False,
    tag=None,
    step_summary=False,
    exit_zero=False,
    context=None,
):
    """Diff the rendered manifests of two commits per object (offline; Secrets by key only).

    Exits 1 when something differs, like `git diff --exit-code`."""
    from invoke import Exit

    from opskit.core import args
    from opskit.core.errors import OpsError

    tag = args.image_tag(tag, "--tag")
    fmt = args.choice(format, "--format", FORMATS)
    cfg = load_config(c)
    if overlay not in (None, "all", "argocd"):
        cfg.overlay(overlay)  # an unknown name is one line listing the known ones
    if live:
        changed = _live_diff(cfg, overlay or "dev", tag, context)
    elif not base:
        raise OpsError(
            "--base is required (or --live for the cluster)",
            "e.g. `invoke manifests.diff --base=origin/main`",
        )
    else:
        changed = _offline_diff(cfg, base, head, overlay, fmt, step_summary)
    if changed and not exit_zero:
        raise Exit(code=1)


def _offline_diff(cfg, base, head, overlay, format, step_summary) -> bool:
    import os

    from opskit.diff import formats, offline

    targets = None if overlay in (None, "all") else [overlay]
    result = offline.run(cfg.root, base, head, targets)
    print((formats.markdown if format == "markdown" else formats.text)(result), end="")
    if step_summary and (summary := os.environ.get("GITHUB_STEP_SUMMARY")):
        with open(summary, "a", encoding="utf-8") as stream:
            stream.write(formats.markdown(result))
    say(formats.summary(result))
    return result.changed


def _live_diff(cfg, overlay, tag, context) -> bool:
    from opskit.diff import live

    ov = cfg.overlay(overlay)
    target = connect(cfg, ov, context)
    kube = target.kube
    objects = live.rendered(cfg, ov, tag, target.components)[1]
    result = live.comparison(cfg, ov, kube, objects)
    print(result.text, end="")
    for line in result.skipped:
        say(f"not compared: {line}")
    say(
        f"{ov.name} vs {kube.context}: "
        + ("differences above" if result.changed else "no differences")
    )
    return result.changed
