"""ArgoCD's images for the real node: what goes into each build context, the exact buildah
command, nothing rebuilt when present, the missing-binary error, and only missing images loaded
into the node (buildah's store at the shell boundary)."""

from __future__ import annotations

from pathlib import Path

import pytest

from opskit.core import shell
from opskit.core.errors import OpsError
from opskit.images import argocd, debian
from tests.unit.conftest import builds


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    """A release with the helpers the argocd image copies, built binaries, their stamp."""
    release = tmp_path / "argo-cd@v3.6.1"
    for name in argocd.HELPERS:
        (release / name).parent.mkdir(parents=True, exist_ok=True)
        (release / name).write_text(f"#!/bin/sh\n# {name}\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for binary in ("argocd", "kustomize", "ksops"):
        (bin_dir / binary).write_bytes(b"\x7fELF " + binary.encode())
    monkeypatch.setattr(argocd.tools, "which", lambda name: str(bin_dir / name))
    stamp = {b: {"key": f"key-{b}", "version": "v3.6.1"} for b in ("argocd", "kustomize")}
    stamp["ksops"] = {"key": "key-ksops", "version": "v4.4.0"}
    monkeypatch.setattr(argocd, "_stamp", lambda: stamp)
    return release


def test_each_image_is_built_once_from_its_own_context(buildah, inputs, monkeypatch):
    store, calls = buildah
    store.add(debian.BaseRecipe().image)
    contexts: dict[str, list[str]] = {}
    fake_run = shell.run

    def run(argv, **kwargs):
        if list(argv[:2]) == ["buildah", "bud"]:
            contexts[argv[argv.index("-t") + 1]] = sorted(p.name for p in Path(argv[-1]).iterdir())
        return fake_run(argv, **kwargs)

    monkeypatch.setattr(shell, "run", run)
    said: list[str] = []
    mapping = argocd.ensure_built(inputs, report=said.append)
    assert set(mapping) == {*(i.upstream for i in argocd.IMAGES), argocd.REDIS_UPSTREAM}
    image = mapping["quay.io/argoproj/argocd"]
    assert image.startswith("localhost/gitops-lab/argocd:v3.6.1-")
    assert contexts[image] == [
        "Containerfile", "argocd", "entrypoint.sh", "git-verify-wrapper.sh",
        "gpg-wrapper.sh", "kustomize",
    ]  # fmt: skip
    assert contexts[mapping["viaductoss/ksops"]] == ["Containerfile", "ksops"]
    assert contexts[mapping["ghcr.io/dexidp/dex"]] == ["Containerfile", "dex"]
    bud = next(argv for argv in builds(calls) if image in argv)
    assert bud[5:7] == ["--build-arg", f"BASE={debian.BaseRecipe().image}"]
    built = {argv[argv.index("-t") + 1] for argv in builds(calls)}
    assert built == set(mapping.values())  # the redis stand-in too
    assert any(line.startswith(f"building {image} (stands in for quay.io/argoproj/argocd)")
               for line in said)  # fmt: skip
    calls.clear()
    assert argocd.ensure_built(inputs, report=said.append) == mapping
    assert builds(calls) == []  # all present: nothing is built again


def test_a_changed_binary_is_a_new_tag(inputs, monkeypatch):
    before = argocd.planned(inputs)
    stamp = argocd._stamp()
    monkeypatch.setattr(
        argocd, "_stamp", lambda: {**stamp, "argocd": {"key": "other", "version": "v3.6.1"}}
    )
    after = argocd.planned(inputs)
    assert after["quay.io/argoproj/argocd"] != before["quay.io/argoproj/argocd"]
    assert after["viaductoss/ksops"] == before["viaductoss/ksops"]


def test_a_missing_binary_stops_before_any_build(buildah, inputs, monkeypatch):
    _store, calls = buildah
    monkeypatch.setattr(argocd.tools, "which", lambda name: None if name == "ksops" else name)
    with pytest.raises(OpsError) as caught:
        argocd.ensure_built(inputs, report=print)
    assert caught.value.message == "`ksops` is not built"
    assert "tools.install" in caught.value.hint
    assert calls == []


class _Cluster:
    """The node's record of loaded images, and the loads asked of it."""

    def __init__(self, have: set[str]) -> None:
        self.have = have
        self.loaded: list[str] = []

    def image_loaded(self, image: str) -> bool:
        return image in self.have

    def load_image(self, image: str) -> None:
        self.loaded.append(image)


def test_only_the_images_the_node_lacks_are_loaded():
    wanted = ["localhost/gitops-lab/argocd:v3.6.1-aaa", "localhost/gitops-lab/ksops:v4.4.0-bbb"]
    cluster = _Cluster({wanted[0], "other:1"})
    said: list[str] = []
    assert argocd.load_missing(cluster, wanted, report=said.append) == [wanted[1]]
    assert cluster.loaded == [wanted[1]]
    assert len(said) == 1 and said[0].startswith(f"loaded {wanted[1]} into the node in ")
