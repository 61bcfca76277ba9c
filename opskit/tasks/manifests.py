"""Kubernetes manifests in k8s/: render, validate, pin the image tag, diff against a cluster."""

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
    from opskit import args, manifests

    tag = args.image_tag(tag, "--tag")
    cfg = load_config(c)
    print(manifests.render_text(cfg, cfg.overlay(overlay), tag=tag), end="")


@task(default=True, help={"overlay": OVERLAY_HELP + "; default: every overlay and k8s/argocd"})
@opskit_task
def validate(c, overlay=None):
    """Check schemas (Kubernetes version of opskit.yaml) and policies; list every problem."""
    import time

    from opskit import validate as checks
    from opskit.errors import OpsError

    started = time.monotonic()
    cfg = load_config(c)
    report = checks.validate_all(cfg, [overlay] if overlay else None)
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
    from opskit import args, manifests
    from opskit.errors import OpsError

    if not overlay or not tag:
        raise OpsError(
            "--overlay and --tag are required",
            "e.g. `invoke manifests.set-image --overlay=dev "
            "--tag=$(git rev-parse --short=12 HEAD)`",
        )
    tag = args.image_tag(tag, "--tag")
    cfg = load_config(c)
    change = manifests.set_image(cfg, cfg.overlay(overlay), tag, dry_run=dry_run)
    where = change.path.relative_to(cfg.root)
    if not change.changed:
        say(f"{where} already pins {cfg.app.image}:{tag}")
    elif dry_run:
        say(f"[dry-run] would pin {cfg.app.image}:{tag} in {where} (was {change.old})")
    else:
        say(f"pinned {cfg.app.image}:{tag} in {where} (was {change.old})")


@task(help={"overlay": OVERLAY_HELP, "tag": TAG_HELP, "context": CONTEXT_HELP})
@opskit_task
def diff(c, overlay="dev", tag=None, context=None):
    """Show what applying an overlay would change in the current cluster (kubectl diff)."""
    from opskit import args, manifests

    tag = args.image_tag(tag, "--tag")
    cfg = load_config(c)
    ov = cfg.overlay(overlay)
    kube = connect(cfg, ov, context).kube
    result = manifests.diff(cfg, ov, kube, tag=tag)
    print(result.text, end="")
    for line in result.skipped:
        say(f"not compared: {line}")
    say(
        f"{ov.name} vs {kube.context}: "
        + ("differences above" if result.changed else "no differences")
    )
