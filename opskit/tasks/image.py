"""The app's container image: build, push and load, tagged by the commit."""

from invoke import task

from opskit.tasks._common import CONTEXT_HELP, DRY_RUN_HELP, connect, load_config, opskit_task, say

DIRTY_HELP = "allow uncommitted changes (tag <sha>-dirty-<hash>)"
FORCE_HELP = "run even when the cluster runs no containers (kwok)"


def _ref(c, allow_dirty):
    from opskit import gitinfo, image

    cfg = load_config(c)
    tag = gitinfo.image_tag(
        cfg.root, cfg.app.tag_length, allow_dirty=allow_dirty, protected=False, what="image"
    )
    return cfg, image.ImageRef(cfg.app.image, tag.value), tag.commit


def _needs_containers(cfg, force, context=None):
    """The connection to the target cluster, or None (said why) when it runs no containers."""
    target = connect(cfg, None, context)
    if not target.runs_containers and not force:
        say(
            f"skipped: cluster {target.context} runs no containers (kwok); pass --force to "
            "build anyway"
        )
        return None
    return target


@task(help={"allow_dirty": DIRTY_HELP, "dry_run": DRY_RUN_HELP, "force": FORCE_HELP})
@opskit_task
def build(c, allow_dirty=False, dry_run=False, force=False):
    """docker build app/ as <image>:<commit> with the OCI revision label."""
    from opskit import image, shell, tools

    cfg, ref, commit = _ref(c, allow_dirty)
    if _needs_containers(cfg, force) is None:
        return
    tools.require("docker")
    shell.run_step(image.build_step(cfg, ref, commit), dry_run=dry_run)
    say(f"would build {ref}" if dry_run else f"built {ref}")


@task(help={"allow_dirty": DIRTY_HELP, "dry_run": DRY_RUN_HELP})
@opskit_task
def push(c, allow_dirty=False, dry_run=False):
    """Push <image>:<commit> to the configured registry."""
    from opskit import image, shell, tools

    _, ref, _ = _ref(c, allow_dirty)
    tools.require("docker")
    shell.run_step(image.push_step(ref), dry_run=dry_run)
    say(f"would push {ref}" if dry_run else f"pushed {ref}")


@task(
    help={
        "allow_dirty": DIRTY_HELP,
        "dry_run": DRY_RUN_HELP,
        "force": FORCE_HELP,
        "context": CONTEXT_HELP,
    }
)
@opskit_task
def load(c, allow_dirty=False, dry_run=False, force=False, context=None):
    """Load <image>:<commit> into the current k3d or minikube cluster."""
    from opskit.errors import OpsError

    cfg, ref, _ = _ref(c, allow_dirty)
    target = _needs_containers(cfg, force, context)
    if target is None:
        return
    if target.cluster is None:
        raise OpsError(
            f"{target.context} is not a cluster this suite started: nothing to load into",
            "push the image to a registry it pulls from: `invoke image.push`",
        )
    target.cluster.load_image(str(ref), dry_run=dry_run)
    say(f"would load {ref}" if dry_run else f"loaded {ref} into {target.context}")
