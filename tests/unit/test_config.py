"""opskit.yaml loading: the real file loads; each kind of mistake is one precise line."""

from pathlib import Path

import pytest
import yaml

from opskit.core import config
from opskit.core.errors import ConfigError


def test_repository_config_loads(root):
    cfg = config.load(root / "opskit.yaml")
    dev = cfg.overlay("dev")
    assert dev.path == root / "k8s" / "overlays" / "dev"
    assert dev.namespace == "gitops-lab-dev"
    assert "kwok-gitops-lab" in dev.contexts
    assert cfg.overlay("prod").protected is True
    assert cfg.cluster.provider in config.PROVIDERS


def test_images_are_data_the_app_first_each_overridable(root, monkeypatch):
    monkeypatch.setenv("OPSKIT_IMAGE", "registry.ci/api")
    monkeypatch.setenv("OPSKIT_IMAGE_TELEMETRY", "registry.ci/telemetry")
    cfg = config.load(root / "opskit.yaml")
    assert [(i.name, i.repository, i.context) for i in cfg.images.values()] == [
        ("api", "registry.ci/api", "app"),
        ("telemetry", "registry.ci/telemetry", "services/telemetry"),
    ]
    assert (cfg.app.image, cfg.app.context) == ("registry.ci/api", "app")


def test_without_images_the_app_alone_is_built(root, tmp_path):
    def legacy(d):
        d.pop("images")
        d["app"].update(image="example/api", context="app")

    cfg = config.load(_write(tmp_path, root, legacy))
    assert [(i.name, i.repository) for i in cfg.images.values()] == [("api", "example/api")]


def test_config_is_frozen(root):
    cfg = config.load(root / "opskit.yaml")
    with pytest.raises(AttributeError):
        cfg.app.port = 1


def _write(tmp_path: Path, root: Path, edit) -> Path:
    data = yaml.safe_load((root / "opskit.yaml").read_text())
    edit(data)
    path = tmp_path / "opskit.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["app"].update(colour="red"), "app.colour: unknown key; allowed keys: name,"),
        (lambda d: d["app"].update(port="80"), "app.port: expected integer, got a string"),
        (lambda d: d["app"].update(port=True), "app.port: expected integer, got a boolean"),
        (
            lambda d: d["images"]["api"].pop("repository"),
            "images.api.repository: missing key; add `repository:` (string)",
        ),
        (lambda d: d["images"].pop("api"), "images: no entry for the app 'api'"),
        (lambda d: d.pop("overlays"), "overlays: missing key; define at least one overlay"),
        (
            lambda d: d["overlays"]["dev"].update(hosts="a.b"),
            "overlays.dev.hosts: expected a list of strings, got a string",
        ),
        (
            lambda d: d["overlays"]["dev"].update(missing_api="ignore"),
            "overlays.dev.missing_api: 'ignore' is not allowed; use one of: warn, fail",
        ),
        (
            lambda d: d["argocd"].update(local_polling="slow"),
            "argocd.local_polling: 'slow' is not allowed; use one of: fast, upstream",
        ),
        (
            lambda d: d["cluster"].update(provider="kind"),
            "cluster.provider: 'kind' is not allowed; use one of: auto, kwok, k3d, minikube",
        ),
        (lambda d: d.update(extra=1), "extra: unknown key"),
        (lambda d: d.update(root="/x"), "root: unknown key"),
        (lambda d: d.update(app=[1]), "app: expected a mapping, got a list"),
        (
            lambda d: d["app"].update(port=70000),
            "app.port: '70000' is not allowed; use an integer from 1 to 65535",
        ),
        (lambda d: d["app"].update(port=0), "app.port: '0' is not allowed"),
        (
            lambda d: d["app"].update(tag_length=6),
            "app.tag_length: '6' is not allowed; use an integer from 7 to 40",
        ),
        (lambda d: d["app"].update(tag_length=41), "app.tag_length: '41' is not allowed"),
        (
            lambda d: d["cluster"].update(nodes=0),
            "cluster.nodes: '0' is not allowed; use an integer of at least 1",
        ),
        (
            lambda d: d["cluster"].setdefault("kwok", {}).update(apiserver_port=-1),
            "cluster.kwok.apiserver_port: '-1' is not allowed; use an integer from 0 to 65535",
        ),
        (
            lambda d: d["cluster"].setdefault("k3d", {}).update(https_port=65536),
            "cluster.k3d.https_port: '65536' is not allowed",
        ),
        (
            lambda d: d["cluster"].setdefault("minikube", {}).update(cpus=0),
            "cluster.minikube.cpus: '0' is not allowed; use an integer of at least 1",
        ),
        (
            lambda d: d["cluster"].setdefault("minikube", {}).update(memory=-4096),
            "cluster.minikube.memory: '-4096' is not allowed",
        ),
        (
            lambda d: d["cluster"].update(name="../../tmp"),
            "cluster.name: '../../tmp' is not a valid cluster name",
        ),
        (
            lambda d: d["overlays"]["dev"].update(namespace="Dev_NS"),
            "overlays.dev.namespace: 'Dev_NS' is not a valid name",
        ),
        (
            lambda d: d["app"].update(name="my app"),
            "app.name: 'my app' is not a valid name",
        ),
    ],
)
def test_bad_config_is_one_line(tmp_path, root, edit, message):
    path = _write(tmp_path, root, edit)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: ")
    assert message in text


def test_unknown_overlay_names_the_known_ones(root):
    cfg = config.load(root / "opskit.yaml")
    with pytest.raises(ConfigError) as info:
        cfg.overlay("nope")
    assert str(info.value) == (
        f"{root / 'opskit.yaml'}: overlays: unknown overlay 'nope'; use one of: dev, prod"
    )


def test_missing_file_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found; run from the repository"):
        config.load(tmp_path / "absent.yaml")
    bad = tmp_path / "opskit.yaml"
    bad.write_text("app: [\n")
    with pytest.raises(
        ConfigError, match=r"opskit.yaml: line \d+: invalid YAML \(.*\); fix the file"
    ):
        config.load(bad)


def test_root_found_from_env_and_cwd(tmp_path, monkeypatch):
    from opskit.core import paths

    (tmp_path / "opskit.yaml").write_text("x: 1\n")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    monkeypatch.delenv("OPSKIT_ROOT", raising=False)
    monkeypatch.chdir(nested)
    paths.root.cache_clear()
    try:
        assert paths.root() == tmp_path
        monkeypatch.setenv("OPSKIT_ROOT", str(nested))
        paths.root.cache_clear()
        assert paths.root() == nested
    finally:
        paths.root.cache_clear()


def test_image_repository_can_be_overridden_from_the_environment(root, monkeypatch):
    monkeypatch.setenv("OPSKIT_IMAGE", "ghcr.io/acme/gitops-lab/api")
    cfg = config.load(root / "opskit.yaml")
    assert cfg.app.image == "ghcr.io/acme/gitops-lab/api"
    assert cfg.app.port == 4000


def test_write_atomic_replaces_whole_files_and_keeps_the_mode(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from opskit.core import paths

    target = tmp_path / "sub" / "file.json"
    paths.write_atomic(target, "one")
    assert (target.read_text(), target.stat().st_mode & 0o777) == ("one", 0o644)
    target.chmod(0o640)
    with ThreadPoolExecutor(max_workers=8) as pool:  # concurrent writers never collide
        list(pool.map(lambda i: paths.write_atomic(target, f"v{i}"), range(32)))
    assert target.read_text().startswith("v")
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in target.parent.iterdir()] == ["file.json"]
