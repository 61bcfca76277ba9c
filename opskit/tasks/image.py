"""The project's container images (opskit.yaml `images:`): build, push and load, by commit."""

from invoke import task

from opskit.core import toolcheck
from opskit.tasks._common import CONTEXT_HELP, DRY_RUN_HELP, connect, load_config, opskit_task, say

DIRTY_HELP = "allow uncommitted changes (tag <sha>-dirty-<hash>)"
FORCE_HELP = "run even when the cluster runs no containers (kwok)"
IMAGE_HELP = "only this image of opskit.yaml `images:` (default: all of them)"


def _refs(c, allow_dirty, only):
    from opskit.core import gitinfo
    from opskit.images import images

    cfg = load_config(c)
    tag = gitinfo.image_tag(
        cfg.root, cfg.app.tag_length, allow_dirty=allow_dirty, protected=False, what="image"
    )
    return cfg, images.refs(cfg, tag.value, only), tag.commit


def _needs_containers(cfg, force, context=None):
    """The connection to the target cluster, or None (said why) when it runs no containers."""
    target = connect(cfg, None, context)
    if _real_node(target):
        return target
    if not target.runs_containers and not force:
        say(
            f"skipped: cluster {target.context} runs no containers (kwok); pass --force to "
            "build anyway"
        )
        return None
    return target


def _real_node(target) -> bool:
    """The embedded cluster with a real node: images are built here with buildah."""
    return target.cluster is not None and target.cluster.has_real_node()


HELP = {"allow_dirty": DIRTY_HELP, "dry_run": DRY_RUN_HELP, "image": IMAGE_HELP}


@task(help={**HELP, "force": FORCE_HELP})
@opskit_task
def build(c, allow_dirty=False, dry_run=False, force=False, image=""):
    """docker build each image's context as <repository>:<commit> with the OCI revision label
    (buildah on the embedded cluster's real node)."""
    from opskit.core import shell
    from opskit.images import images

    cfg, refs, commit = _refs(c, allow_dirty, image)
    target = _needs_containers(cfg, force)
    if target is None:
        return
    if _real_node(target):
        from opskit.images import embedded

        embedded.build(cfg, refs, commit, report=say, dry_run=dry_run)
        return
    toolcheck.require("docker")
    for ref in refs:
        shell.run_step(images.build_step(cfg, ref, commit), dry_run=dry_run)
        say(f"would build {ref}" if dry_run else f"built {ref}")


@task(help=HELP)
@opskit_task
def push(c, allow_dirty=False, dry_run=False, image=""):
    """Push each <repository>:<commit> to its registry."""
    from opskit.core import shell
    from opskit.images import images

    _, refs, _ = _refs(c, allow_dirty, image)
    toolcheck.require("docker")
    for ref in refs:
        shell.run_step(images.push_step(ref), dry_run=dry_run)
        say(f"would push {ref}" if dry_run else f"pushed {ref}")


@task(help={**HELP, "force": FORCE_HELP, "context": CONTEXT_HELP})
@opskit_task
def load(c, allow_dirty=False, dry_run=False, force=False, context=None, image=""):
    """Load each <repository>:<commit> into the current k3d or minikube cluster (or the
    embedded cluster's real node)."""
    from opskit.core.errors import OpsError

    cfg, refs, _ = _refs(c, allow_dirty, image)
    target = _needs_containers(cfg, force, context)
    if target is None:
        return
    if target.cluster is None:
        raise OpsError(
            f"{target.context} is not a cluster this suite started: nothing to load into",
            "push the image to a registry it pulls from: `invoke image.push`",
        )
    for ref in refs:
        target.cluster.load_image(str(ref), dry_run=dry_run)
        say(f"would load {ref}" if dry_run else f"loaded {ref} into {target.context}")
