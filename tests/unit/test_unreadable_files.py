"""Each file the suite reads, broken: one line naming the path (caches: ignored, rebuilt)."""

import shutil
from pathlib import Path

import pytest
from invoke import Program

from opskit.core import config, toolcheck
from opskit.core.errors import OpsError
from opskit.gitops import argocd, release
from opskit.manifests import rendercache, validate
from opskit.secrets import sops
from opskit.toolchain import build

ROOT = Path(__file__).resolve().parents[2]
DUPLICATE = "line {line}: duplicate key {key!r} (first on line {first})"


def _one_line(call, *a) -> str:
    __tracebackhide__ = True
    with pytest.raises(OpsError) as info:
        call(*a)
    text = str(info.value)
    assert "\n" not in text, text
    return text


def test_duplicate_key_in_opskit_yaml(tmp_path):
    file = tmp_path / "opskit.yaml"
    file.write_text((ROOT / "opskit.yaml").read_text() + "project:\n  name: other\n")
    text = _one_line(config.load, file)
    assert text.startswith(f"{file}: line ")
    assert "duplicate key 'project'" in text


@pytest.mark.usefixtures("restore_task_help", "refuse_processes")
def test_duplicate_key_in_opskit_yaml_through_invoke(tmp_path, monkeypatch, capsys):
    import tasks

    (tmp_path / "opskit.yaml").write_text("app:\n  port: 1\n  port: 2\n")
    monkeypatch.setenv("OPSKIT_ROOT", str(tmp_path))
    config.paths.root.cache_clear()
    try:
        with pytest.raises(SystemExit) as exited:
            Program(namespace=tasks.ns).run(["invoke", "config.show"])
    finally:
        config.paths.root.cache_clear()
    assert exited.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        f"opskit: error: {tmp_path / 'opskit.yaml'}: "
        + DUPLICATE.format(line=3, key="port", first=2)
        + "; keep one of them (YAML keeps only the last, silently)"
    ]


def test_duplicate_key_in_a_kustomization(tmp_path):
    file = tmp_path / "kustomization.yaml"
    file.write_text("images:\n  - name: api\n    newTag: aaaaaaa\n    newTag: bbbbbbb\n")
    assert f"{file}: " + DUPLICATE.format(line=4, key="newTag", first=3) in _one_line(
        release.pinned_tag, file, "api"
    )


def test_duplicate_key_in_a_kustomization_being_edited(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "k8s", root / "k8s")
    shutil.copy(ROOT / "opskit.yaml", root / "opskit.yaml")
    cfg = config.load(root / "opskit.yaml")
    file = cfg.overlay("dev").path / "kustomization.yaml"
    file.write_text(file.read_text() + "namespace: again\n")
    text = _one_line(manifests_set_image, cfg)
    assert text.startswith(f"{file}: line ") and "duplicate key" in text


def manifests_set_image(cfg):
    from opskit.manifests import kustomize

    kustomize.set_image(cfg, "dev", "0123456789ab")


def test_duplicate_key_in_an_argocd_manifest(tmp_path):
    folder = tmp_path / "k8s" / "argocd"
    folder.mkdir(parents=True)
    (folder / "app.yaml").write_text("kind: Application\nmetadata: {}\nkind: AppProject\n")
    (folder / "kustomization.yaml").write_text("resources: [app.yaml]\n")
    text = _one_line(argocd.load_manifests, tmp_path)
    assert text.startswith(f"{folder / 'app.yaml'}: line 3: duplicate key 'kind'")
    cfg = type("Cfg", (), {"root": tmp_path})
    assert "duplicate key 'kind'" in _one_line(validate.argocd_objects, cfg)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("this is not yaml: [\n", "line 2: invalid YAML ("),
        ("just some text\n", "not a SOPS-encrypted YAML mapping; restore it from git"),
        ("data:\n  a: ENC[x]\n  a: ENC[y]\n", "duplicate key 'a'"),
    ],
)
def test_a_sops_file_that_is_not_yaml(tmp_path, content, message):
    file = tmp_path / "api-secrets.sops.yaml"
    file.write_text(content)
    text = _one_line(sops.file_recipients, file)
    assert text.startswith(f"{file}: ") and message in text


def test_a_broken_tool_version_cache_is_rebuilt(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(toolcheck, "state_dir", lambda: tmp_path)
    (tmp_path / "tool-versions.json").write_text('{"/usr/bin/git": {"version": ')
    assert toolcheck.probe("git").ok
    assert capsys.readouterr().err == (
        f"opskit: ignoring the unreadable cache {tmp_path / 'tool-versions.json'} (it is rebuilt)\n"
    )
    assert toolcheck._read_cache()  # rewritten whole


@pytest.mark.parametrize("broken", ["{not json", "[1, 2]", None])
def test_a_broken_tool_stamp_is_ignored(tmp_path, monkeypatch, capsys, broken):
    monkeypatch.setattr(build, "stamp_file", lambda: tmp_path / "stamp.json")
    if broken is None:
        (tmp_path / "stamp.json").mkdir()
    else:
        (tmp_path / "stamp.json").write_text(broken)
    assert build.read_stamp() == {}
    if broken != "[1, 2]":  # valid JSON of the wrong shape reads as empty, quietly
        assert "ignoring the unreadable cache" in capsys.readouterr().err


def test_a_truncated_render_cache_is_rendered_again(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(rendercache.paths, "state_dir", lambda: tmp_path / "state")
    k8s = tmp_path / "k8s"
    (k8s / "overlays" / "dev").mkdir(parents=True)
    (k8s / "overlays" / "dev" / "kustomization.yaml").write_text("resources: []\n")
    overlay = k8s / "overlays" / "dev"
    full = "kind: ConfigMap\nmetadata:\n  name: a\n"
    objects = [{"kind": "ConfigMap", "metadata": {"name": "a"}}]
    assert rendercache.rendered(k8s, overlay, lambda: full) == objects
    (cached,) = (tmp_path / "state" / "cache" / "render").glob("*.json")
    cached.write_text(cached.read_text()[:-10])  # a disk that filled up mid-write
    assert rendercache.rendered(k8s, overlay, lambda: full) == objects
    assert (
        capsys.readouterr().err
        == f"opskit: ignoring the unreadable cache {cached} (it is rebuilt)\n"
    )
