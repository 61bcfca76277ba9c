"""`invoke image.build` / `image.load` for the embedded cluster's real node: the project's
images built here with buildah (opskit.images.localbuild), each as <repository>:<commit>;
the api is not (its build needs hex.pm, which this machine cannot reach): it is the one
workload that stays simulated on the embedded cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opskit.core import shell
from opskit.images import localbuild

if TYPE_CHECKING:
    from opskit.core.config import Config
    from opskit.images.images import ImageRef

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
