"""Render overlays with kustomize, pin the app image in memory, edit the pin, diff a cluster.

Rendering is `kubectl kustomize` (the kustomize built into kubectl) through opskit.core.shell;
nothing here writes a rendered manifest to disk.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.core import shell
from opskit.core.args import TAG_PATTERN
from opskit.core.errors import OpsError

if TYPE_CHECKING:
    from opskit.core.config import Config, Overlay

RENDER_TIMEOUT = 60.0
ARGOCD_DIR = Path("k8s") / "argocd"  # the ArgoCD Applications and projects
PLATFORM_DIR = Path("k8s") / "platform"  # k8s/argocd plus monitoring: what the root renders
MONITORING_VALUES = Path("k8s") / "monitoring" / "values.yaml"  # kube-prometheus-stack's
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def rendered_folder(root: Path) -> Path:
    """The committed root's folder: k8s/platform, or k8s/argocd in a tree from before the
    platform folder (an older commit in `manifests.diff`)."""
    platform = root / PLATFORM_DIR
    return platform if (platform / "kustomization.yaml").is_file() else root / ARGOCD_DIR


def render_step(path: Path) -> shell.Step:
    """The render command as a value (for --dry-run output and tests)."""
    return shell.Step(
        argv=("kubectl", "kustomize", str(path)),
        what=f"render {path.name}",
        timeout=RENDER_TIMEOUT,
        hint="fix the kustomization named above",
    )


def _render(path: Path, components: tuple[Path, ...] = ()) -> str:
    """`kubectl kustomize` of the overlay at `path`; with `components`, of a kustomization
    naming the overlay and adding them (kustomize takes relative paths only)."""
    if not components:
        return shell.run_step(render_step(path)).stdout
    with tempfile.TemporaryDirectory(prefix="opskit-render-") as folder:
        body = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [os.path.relpath(path, folder)],
            "components": [os.path.relpath(c, folder) for c in components],
        }
        Path(folder, "kustomization.yaml").write_text(json.dumps(body))  # JSON is YAML
        what = f"render {path.name} + {', '.join(c.name for c in components)}"
        return shell.run_step(replace(render_step(Path(folder)), what=what)).stdout


def _overlay(cfg: Config, overlay: Overlay | str) -> Overlay:
    return cfg.overlay(overlay) if isinstance(overlay, str) else overlay


def render_text(
    cfg: Config, overlay: Overlay | str, tag: str | None = None, components: tuple[Path, ...] = ()
) -> str:
    """The overlay as multi-document YAML; with `tag`, the app image is pinned to it."""
    ov = _overlay(cfg, overlay)
    if tag is None:
        return _render(ov.path, components)
    return dump(render_overlay(cfg, ov, tag=tag, components=components))


def render_overlay(
    cfg: Config,
    overlay: Overlay | str,
    tag: str | None = None,
    cached: bool = False,
    components: tuple[Path, ...] = (),
) -> list[dict]:
    """The overlay's objects; with `tag`, the app image is pinned to it (in memory only).
    `cached` reuses an earlier render of exactly the same k8s/ files (deploy's fast path).
    `components` are added on top for the target cluster (clusters.base.Cluster.components)."""
    ov = _overlay(cfg, overlay)

    def render() -> str:
        return _render(ov.path, components)

    inside = all(p.is_relative_to(cfg.root / "k8s") for p in (ov.path, *components))
    if cached and inside:
        from opskit.manifests import rendercache

        objects = rendercache.rendered(cfg.root / "k8s", ov.path, render, components)
    else:
        objects = load_documents(render())
    if tag is not None:
        pin_overlay(cfg, ov, objects, tag)
    return objects


def pin_overlay(cfg: Config, overlay: Overlay, objects: list[dict], tag: str) -> None:
    """Pin the overlay's project images in its rendered `objects` to `tag`."""
    pin_images(cfg, objects, tag, where=overlay.name, named=overlay_images(cfg, overlay))


def overlay_images(cfg: Config, overlay: Overlay) -> dict[str, str]:
    """The repository the overlay's kustomization names for each project image (`newName`,
    e.g. the registry a release pinned), so pinning finds an image whichever registry it
    names."""
    from opskit.core import yamlio

    path = overlay.path / "kustomization.yaml"
    if not path.is_file():
        return {}
    data = yamlio.load_file(path) or {}
    entries = data.get("images") if isinstance(data, dict) else None
    return {
        str(e["name"]): str(e.get("newName") or e["name"])
        for e in entries or []
        if isinstance(e, dict) and e.get("name") in cfg.images
    }


def render_many(cfg: Config, overlays: list[Overlay]) -> dict[str, list[dict]]:
    """Several overlays' objects, by overlay name.

    One kustomize run builds them all when their namespaces tell the objects apart (a small
    build is mostly kustomize's start-up); otherwise, or if that joint build fails, one run
    per overlay, at the same time, so a broken overlay is reported as itself."""
    if len(overlays) > 1 and (together := _render_together(overlays)) is not None:
        return together
    with ThreadPoolExecutor(max_workers=len(overlays)) as pool:
        texts = list(pool.map(lambda ov: shell.run_step(render_step(ov.path)).stdout, overlays))
    return {ov.name: load_documents(text) for ov, text in zip(overlays, texts, strict=True)}


def _render_together(overlays: list[Overlay]) -> dict[str, list[dict]] | None:
    owner = {ov.namespace: ov.name for ov in overlays}
    if len(owner) < len(overlays):
        return None
    with tempfile.TemporaryDirectory(prefix="opskit-render-") as folder:
        # a kustomization naming the overlays (kustomize only takes relative paths; JSON is YAML)
        resources = [os.path.relpath(ov.path, folder) for ov in overlays]
        Path(folder, "kustomization.yaml").write_text(json.dumps({"resources": resources}))
        result = shell.run_step(render_step(Path(folder)), check=False)
    if result.returncode != 0:
        return None
    split: dict[str, list[dict]] = {ov.name: [] for ov in overlays}
    for obj in load_documents(result.stdout):
        meta = obj.get("metadata") or {}
        namespace = meta.get("name") if obj.get("kind") == "Namespace" else meta.get("namespace")
        if namespace not in owner:
            return None
        split[owner[namespace]].append(obj)
    return split


def load_documents(text: str, origin: str = "kustomize output") -> list[dict]:
    """Every non-empty YAML document of `text`; `origin` names it in errors."""
    from opskit.core import yamlio

    return yamlio.load_all(text, origin)


def dump(objects: list[dict]) -> str:
    """Objects as multi-document YAML, keys in their original order."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump_all(objects, Dumper=dumper, sort_keys=False, default_flow_style=False)


def containers(obj: dict) -> Iterator[tuple[str, dict]]:
    """(path, container) for every container and init container of a workload object."""
    spec = obj.get("spec") or {}
    prefix = "spec"
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        prefix = "spec.jobTemplate.spec"
    if obj.get("kind") != "Pod":
        spec = (spec.get("template") or {}).get("spec") or {}
        prefix += ".template.spec"
    for field in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(field) or []):
            if isinstance(container, dict):
                yield f"{prefix}.{field}[{index}]", container


def split_image(ref: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of an image reference; a registry port is not a tag."""
    name, _, digest = ref.partition("@")
    repo, sep, tag = name.rpartition(":")
    if not sep or "/" in tag:
        return name, None, digest or None
    return repo, tag, digest or None


def check_tag(tag: str) -> None:
    if not TAG_PATTERN.match(tag) or tag == "latest":
        raise OpsError(
            f"invalid image tag {tag!r}", "use an immutable tag such as the 12-character commit sha"
        )


def pin_image(
    objects: list[dict], image: str, tag: str, where: str = "", also: tuple[str, ...] = ()
) -> int:
    """Point every container running `image` (or one of the repositories `also`) at
    `image:tag`; the number of containers."""
    check_tag(tag)
    pinned = 0
    wanted = {image, *also}
    for obj in objects:
        for _, container in containers(obj):
            if split_image(str(container.get("image", "")))[0] in wanted:
                container["image"] = f"{image}:{tag}"
                pinned += 1
    if not pinned:
        raise OpsError(
            f"{where or 'overlay'}: no container runs image {image}",
            "check the overlay's `images:` block (name: api, newName: app.image)",
        )
    return pinned


def pin_images(
    cfg: Config, objects: list[dict], tag: str, where: str = "", named: dict[str, str] | None = None
) -> None:
    """Pin the app image (which must run) and every other project image the overlay runs;
    `named` is the repository the overlay's kustomization gives each (if another)."""
    named = named or {}

    def also(name: str) -> tuple[str, ...]:
        return (named[name],) if name in named else ()

    pin_image(objects, cfg.app.image, tag, where=where, also=also(cfg.app.name))
    running = {split_image(str(c.get("image", "")))[0] for o in objects for _, c in containers(o)}
    for name, image in list(cfg.images.items())[1:]:
        if running & {image.repository, *also(name)}:
            pin_image(objects, image.repository, tag, where=where, also=also(name))


@dataclass(frozen=True)
class ImageChange:
    path: Path
    old: str | None  # the app's tag before
    new: str
    images: tuple[str, ...] = ()  # the entries (to be) rewritten: tag or repository

    @property
    def changed(self) -> bool:
        return bool(self.images)


def set_image(cfg: Config, overlay: Overlay | str, tag: str, dry_run: bool = False) -> ImageChange:
    """Pin the project's images in an overlay's kustomization.yaml (the app's entry is required,
    the others where the overlay has one); comments and order kept. `old` is the app's tag."""
    return set_images(cfg, overlay, dict.fromkeys(cfg.images, tag), dry_run)


def set_images(
    cfg: Config, overlay: Overlay | str, tags: dict[str, str], dry_run: bool = False
) -> ImageChange:
    """Pin each project image named in `tags` to its tag (the app's entry is required, the
    others where the overlay has one); comments and order kept. `old`/`new`: the app's tag."""
    from opskit.core import yamlio

    for tag in tags.values():
        check_tag(tag)
    ov = _overlay(cfg, overlay)
    path = ov.path / "kustomization.yaml"
    yaml, data = yamlio.load_roundtrip(path)
    entry = _image_entry(data, cfg.app.name, path)
    old = entry.get("newTag")
    entries = {cfg.app.name: entry} | {
        e["name"]: e for e in data.get("images") or [] if e.get("name") in cfg.images
    }
    entries = {name: e for name, e in entries.items() if name in tags}
    stale = tuple(  # a new tag, or a new repository (e.g. $OPSKIT_IMAGE, a CI registry)
        name
        for name, e in entries.items()
        if str(e.get("newTag")) != tags[name] or e.get("newName") != cfg.images[name].repository
    )
    if stale and not dry_run:
        for name in stale:
            entries[name]["newName"] = cfg.images[name].repository
            entries[name]["newTag"] = _quoted(tags[name])
        with path.open("w") as stream:
            yaml.dump(data, stream)
    new = tags.get(cfg.app.name, "" if old is None else str(old))
    return ImageChange(path, None if old is None else str(old), new, stale)


def _image_entry(data: Any, name: str, path: Path) -> Any:
    images = data.get("images") if hasattr(data, "get") else None
    for entry in images or []:
        if entry.get("name") == name:
            return entry
    raise OpsError(
        f"{path}: images: no entry with name: {name}",
        f"add `images: [{{name: {name}, newName: <app.image>, newTag: <tag>}}]`",
    )


def _quoted(tag: str) -> Any:
    """A tag written as a double-quoted string, so an all-digit sha stays a string."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    return DoubleQuotedScalarString(tag)


def by_api(objects: list[dict], versions: set[str]) -> tuple[list[dict], list[dict]]:
    """The objects whose apiVersion the cluster serves, and those it does not."""
    served = [o for o in objects if o.get("apiVersion") in versions]
    return served, [o for o in objects if o.get("apiVersion") not in versions]
