"""The render cache: reused for identical k8s/ files, invalidated by any change."""

import json

import pytest

from opskit.core import shell
from opskit.manifests import rendercache
from opskit.manifests.kustomize import render_step


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.setattr(rendercache.paths, "state_dir", lambda: tmp_path / "state")
    k8s = tmp_path / "k8s"
    (k8s / "overlays" / "dev").mkdir(parents=True)
    (k8s / "base").mkdir()
    (k8s / "base" / "deployment.yaml").write_text("kind: Deployment\n")
    (k8s / "overlays" / "dev" / "kustomization.yaml").write_text("resources: [../../base]\n")
    return k8s


def test_second_render_of_the_same_files_comes_from_the_cache(tree):
    calls = []

    def render():
        calls.append(1)
        return f"kind: ConfigMap\nmetadata: {{name: rendered-{len(calls)}}}\n"

    overlay = tree / "overlays" / "dev"
    first = [{"kind": "ConfigMap", "metadata": {"name": "rendered-1"}}]
    assert rendercache.rendered(tree, overlay, render) == first
    assert rendercache.rendered(tree, overlay, render) == first
    assert len(calls) == 1
    (cached,) = cache_files(tree)  # the parsed objects, as JSON after a checksum line
    assert json.loads(cached.read_text().partition("\n")[2]) == first


def test_any_change_under_k8s_renders_again(tree):
    outputs = iter(["n: 1\n", "n: 2\n", "n: 3\n"])
    overlay = tree / "overlays" / "dev"
    assert rendercache.rendered(tree, overlay, lambda: next(outputs)) == [{"n": 1}]
    (tree / "base" / "deployment.yaml").write_text("kind: Deployment\nspec: {}\n")
    assert rendercache.rendered(tree, overlay, lambda: next(outputs)) == [{"n": 2}]
    (tree / "base" / "service.yaml").write_text("kind: Service\n")
    assert rendercache.rendered(tree, overlay, lambda: next(outputs)) == [{"n": 3}]


def test_old_renders_are_pruned(tree, monkeypatch):
    monkeypatch.setattr(rendercache, "KEEP", 2)
    overlay = tree / "overlays" / "dev"
    for index in range(4):
        (tree / "base" / "n.yaml").write_text(f"n: {index}\n")
        rendercache.rendered(tree, overlay, lambda i=index: f"n: {i}\n")
    assert len(cache_files(tree)) == 2


SECRET_RENDER = """apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
---
apiVersion: v1
data:
  PASSWORD: c2VudGluZWwtdmFsdWU=
kind: Secret
metadata: {name: generated-7k8hd2}
"""


def cache_files(tree):
    return list((tree.parent / "state" / "cache" / "render").glob("*"))


def test_a_render_that_holds_a_secret_is_never_written(tree):
    calls = []

    def render():
        calls.append(1)
        return SECRET_RENDER

    overlay = tree / "overlays" / "dev"
    objects = rendercache.rendered(tree, overlay, render)
    assert [o["kind"] for o in objects] == ["ConfigMap", "Secret"]
    assert rendercache.rendered(tree, overlay, render) == objects
    assert len(calls) == 2 and cache_files(tree) == []


@pytest.mark.tools("kubectl")
def test_a_secret_generator_literal_does_not_reach_the_cache(tree):
    """The real kustomize output for a refused overlay: its literal stays in memory."""
    (tree / "overlays" / "dev" / "kustomization.yaml").write_text(
        "resources: [../../base]\n"
        "secretGenerator:\n- name: leaky\n  literals: [PASSWORD=literal-sentinel-51c3]\n"
    )
    (tree / "base" / "kustomization.yaml").write_text("resources: [deployment.yaml]\n")
    (tree / "base" / "deployment.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\n"
    )
    overlay = tree / "overlays" / "dev"
    objects = rendercache.rendered(
        tree, overlay, lambda: shell.run_step(render_step(overlay)).stdout
    )
    assert "Secret" in [o["kind"] for o in objects]
    assert cache_files(tree) == []
