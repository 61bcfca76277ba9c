"""`invoke image.build` / `image.load` for the embedded cluster's real node: the project's
images built here with buildah (opskit.images.localbuild), each as <repository>:<commit>;
the api is not (its build needs hex.pm, which this machine cannot reach): it is the one
workload that stays simulated on the embedded cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from opskit.core import shell
from opskit.core.errors import OpsError
from opskit.images import localbuild

if TYPE_CHECKING:
    from opskit.core.config import Config
    from opskit.images.images import ImageRef


class Loader(Protocol):
    """What `ship` needs of a cluster (opskit.clusters.base.Cluster has it)."""

    def image_loaded(self, image: str) -> bool: ...

    def load_image(self, image: str, dry_run: bool = False) -> None: ...


API_STAYS_SIMULATED = (
    "needs hex.pm, unreachable here: the api stays simulated on the embedded cluster"
)


def build(
    cfg: Config, refs: list[ImageRef], commit: str, report, dry_run: bool = False
) -> list[str]:
    """Build each image but the app's; returns the names built. Unchanged inputs reuse
    buildah's layer cache: no build step runs again."""
    built = []
    for ref in refs:
        image = next(i for i in cfg.images.values() if i.repository == ref.repository)
        if image.name == cfg.app.name:
            report(f"{ref}: not built ({API_STAYS_SIMULATED})")
            continue
        project = localbuild.ProjectImage(image.name, cfg.root / image.context)
        if dry_run:
            argv = project.build_argv(
                str(ref), localbuild.PYTHON_REPOSITORY, commit, localbuild.HOST_CERTS
            )
            shell.run(argv, mutates=True, dry_run=True)
            report(f"would build {ref}")
            continue
        localbuild.build_project_image(project, str(ref), commit, report)
        report(f"built {ref}")
        built.append(str(ref))
    return built


def ship(
    cfg: Config,
    objects: list[dict],
    commit: str,
    node: Loader,
    report,
    dry_run: bool = False,
) -> None:
    """Every image the plan's pods run on the real node, built here when buildah lacks it
    and loaded into the node's containerd (`node`: the cluster) unless it is there already;
    the api's is neither (its pods stay on a simulated node: API_STAYS_SIMULATED)."""
    from opskit.images import debian
    from opskit.manifests.kustomize import containers, split_image

    wanted = sorted({str(c.get("image", "")) for o in objects for _, c in containers(o)})
    for image in wanted:
        repository = split_image(image)[0]
        if repository == cfg.app.image or node.image_loaded(image):
            continue
        if dry_run:
            report(f"would build {image} (unless buildah has it) and load it into the real node")
            node.load_image(image, dry_run=True)
            continue
        if not debian.present(image):
            _build(cfg, image, commit, report)
        report(f"loading {image} into the real node")
        node.load_image(image)


def _build(cfg: Config, image: str, commit: str, report) -> None:
    from opskit.manifests.kustomize import split_image

    repository = split_image(image)[0]
    project = next((i for i in cfg.images.values() if i.repository == repository), None)
    if project is not None:
        built = localbuild.ProjectImage(project.name, cfg.root / project.context)
        localbuild.build_project_image(built, image, commit, report)
        return
    name = repository.rsplit("/", 1)[-1].removesuffix(localbuild.STANDIN_SUFFIX)
    standin = repository.endswith(localbuild.STANDIN_SUFFIX)
    if not standin or not (localbuild.STANDINS / name).is_dir():
        raise OpsError(
            f"image {image} cannot run on the real node: no registry answers here and it is "
            "neither a project image nor a stand-in (services/standins/)",
            "add a stand-in and name it in k8s/components/embedded-standins",
        )
    if localbuild.build_standin(name, report) != image:
        raise OpsError(
            f"k8s/components/embedded-standins names {image}, but services/standins/{name} "
            f"builds {localbuild.standin_image(name)}",
            "set that tag in k8s/components/embedded-standins/kustomization.yaml",
        )
