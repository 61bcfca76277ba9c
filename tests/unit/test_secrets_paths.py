"""Secret names and paths: every secrets task stays inside its overlay's secrets/ folder.

A Secret's metadata.name or a --name flag is a Kubernetes name (DNS-1123 subdomain), never
a path; a secrets/ folder or file that is a symlink out of its place is refused with one line.
"""

from pathlib import Path

import pytest
from invoke import Context, Exit

from opskit.core.errors import OpsError
from opskit.secrets import edit, generate, sops
from opskit.tasks import secrets as secrets_tasks
from tests.unit.conftest import needs_sops

pytestmark = needs_sops

HOSTILE_NAMES = [
    "../prod/secrets/api-secrets",
    "../../../../../tmp/escaped",
    "a/b",
    "..",
    "UPPER",
    "-leading-dash",
    "x" * 254,
]


@pytest.fixture
def cfg(secrets_project):
    generate.init(secrets_project, secrets_project.overlay("dev"))
    return secrets_project


def manifest(name: str) -> str:
    return (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: '{name}'\n"
        "stringData:\n  TOKEN: t0k3n-value-xyz\n"
    )


def every_file(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts}


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_encrypt_refuses_a_name_that_is_not_a_kubernetes_name(cfg, name, tmp_path):
    before = every_file(tmp_path)
    with pytest.raises(OpsError) as caught:
        generate.encrypt_manifest(cfg, cfg.overlay("dev"), manifest(name), force=True)
    message = str(caught.value)
    assert "\n" not in message and "metadata.name: " in message and "is not a valid name" in message
    assert every_file(tmp_path) == before


@pytest.mark.parametrize("task", ["show", "edit"])
def test_name_flags_are_kubernetes_names_too(cfg, task, capsys):
    c = Context()
    c.config._opskit_config = cfg
    kwargs = {"yes": True} if task == "show" else {}
    with pytest.raises(Exit) as caught:
        getattr(secrets_tasks, task)(c, overlay="dev", name="../prod/secrets/api-secrets", **kwargs)
    assert caught.value.code == 1
    err = capsys.readouterr().err.strip()
    # the flag is parsed before any work starts (opskit.core.args): one line naming it
    assert len(err.splitlines()) == 1
    assert "--name: '../prod/secrets/api-secrets' is not a valid" in err


def test_a_secrets_folder_symlinked_out_of_the_repository_is_refused(cfg, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    prod = cfg.overlay("prod")
    prod.path.mkdir(parents=True, exist_ok=True)
    (prod.path / "secrets").symlink_to(outside)
    with pytest.raises(OpsError) as caught:
        generate.encrypt_manifest(cfg, prod, manifest("extra"))
    assert "\n" not in str(caught.value) and "symlink" in str(caught.value)
    assert list(outside.iterdir()) == []
    sops_config = (cfg.root / ".sops.yaml").read_bytes()
    for call in (sops.rotate, generate.init, sops.decrypted_secrets):
        with pytest.raises(OpsError, match="symlink"):
            call(cfg, prod)
    assert list(outside.iterdir()) == []
    assert (cfg.root / ".sops.yaml").read_bytes() == sops_config  # no recipient added


def test_a_secrets_folder_symlinked_into_another_overlay_is_refused(cfg):
    prod = cfg.overlay("prod")
    prod.path.mkdir(parents=True, exist_ok=True)
    (prod.path / "secrets").symlink_to(cfg.overlay("dev").path / "secrets")
    with pytest.raises(OpsError) as caught:
        generate.encrypt_manifest(cfg, prod, manifest("extra"))
    assert caught.value.message.endswith(", outside the overlay's secrets folder (a symlink?)")
    assert not (cfg.overlay("dev").path / "secrets" / "extra.sops.yaml").exists()


def test_a_secret_file_symlinked_elsewhere_is_refused_by_every_reader(cfg, tmp_path):
    dev = cfg.overlay("dev")
    target = tmp_path / "elsewhere.sops.yaml"
    target.write_text(sops.secret_path(dev, "api-secrets").read_text())
    (dev.path / "secrets" / "linked.sops.yaml").symlink_to(target)
    for call in (
        lambda: edit.show(cfg, dev, "linked"),
        lambda: sops.decrypted_secrets(cfg, dev),
        lambda: sops.rotate(cfg, dev),
        lambda: generate.encrypt_manifest(cfg, dev, manifest("linked"), force=True),
    ):
        with pytest.raises(OpsError) as caught:
            call()
        assert "\n" not in str(caught.value) and "symlink" in str(caught.value)
        assert "linked.sops.yaml resolves to " in caught.value.message
        assert caught.value.message.endswith(", outside a Secret file (a symlink?)")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_secret_file_is_never_named_by_a_path(cfg, name):
    with pytest.raises(OpsError) as caught:
        sops.secret_path(cfg.overlay("dev"), name)
    assert caught.value.message == f"Secret name: {name[:60]!r} is not a valid name"


def test_a_path_outside_the_repository_is_refused_with_where_it_leads(cfg, tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (cfg.root / "k8s" / "elsewhere").symlink_to(outside)
    path = cfg.root / "k8s" / "elsewhere" / "a.sops.yaml"
    with pytest.raises(OpsError) as caught:
        sops.repo_rel(cfg, path)
    real, top = path.resolve(), cfg.root.resolve()
    assert caught.value.message == (
        f"{path} resolves to {real}, outside the repository {top} (a symlink?)"
    )
    assert caught.value.hint == (
        "keep overlays and their secrets/ folders inside the repository, not symlinked out"
    )


def test_valid_names_with_dots_still_work(cfg):
    rel = generate.encrypt_manifest(cfg, cfg.overlay("dev"), manifest("db.credentials-2"))
    assert rel == "k8s/overlays/dev/secrets/db.credentials-2.sops.yaml"
