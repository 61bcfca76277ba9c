"""The app's container image: build, push and load, tagged by the commit."""

from invoke import task

from opskit.tasks._common import DRY_RUN_HELP, load_config, opskit_task, say

DIRTY_HELP = "allow uncommitted changes (tag <sha>-dirty-<hash>)"
FORCE_HELP = "run even when the cluster runs no containers (kwok)"


def _ref(c, allow_dirty):
    from opskit import gitinfo, image

    cfg = load_config(c)
    tag = gitinfo.image_tag(
        cfg.root, cfg.app.tag_length, allow_dirty=allow_dirty, protected=False, what="image"
    )
    return cfg, image.ImageRef(cfg.app.image, tag.value), tag.commit


def _needs_containers(cfg, force):
    from opskit import clusters

    cluster = clusters.current(cfg)
    if not cluster.runs_containers and not force:
        say(
            f"skipped: cluster {cluster.context} runs no containers (kwok); pass --force to "
            "build anyway"
        )
        return None
    return cluster


@task(help={"allow_dirty": DIRTY_HELP, "dry_run": DRY_RUN_HELP, "force": FORCE_HELP})
@opskit_task
def build(c, allow_dirty=False, dry_run=False, force=False):
    """docker build app/ as <image>:<commit> with the OCI revision label."""
    from opskit import image, shell, tools

    cfg, ref, commit = _ref(c, allow_dirty)
    if _needs_containers(cfg, force) is None:
        return
    tools.require("docker")
    shell.run_step(image.build_step(cfg, ref, commit))
    say(f"built {ref}")


@task(help={"allow_dirty": DIRTY_HELP, "dry_run": DRY_RUN_HELP})
@opskit_task
def push(c, allow_dirty=False, dry_run=False):
    """Push <image>:<commit> to the configured registry."""
    from opskit import image, shell, tools

    _, ref, _ = _ref(c, allow_dirty)
    tools.require("docker")
    shell.run_step(image.push_step(ref))
    say(f"pushed {ref}")


@task(help={"allow_dirty": DIRTY_HELP, "dry_run": DRY_RUN_HELP, "force": FORCE_HELP})
@opskit_task
def load(c, allow_dirty=False, dry_run=False, force=False):
    """Load <image>:<commit> into the current k3d or minikube cluster."""
    cfg, ref, _ = _ref(c, allow_dirty)
    cluster = _needs_containers(cfg, force)
    if cluster is None:
        return
    cluster.load_image(str(ref))
    say(f"loaded {ref} into {cluster.context}")
