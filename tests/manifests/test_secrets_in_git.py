"""No Secret in plaintext anywhere under k8s/: the scan of the files in git."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from opskit.manifests.policies import checks

ENCRYPTED = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "api-secrets"},
    "data": {"SECRET_KEY_BASE": "ENC[AES256_GCM,data:abc,iv:x,tag:y,type:str]"},
    "sops": {"age": [], "version": "3.9.4"},
}


def scan(tmp_path: Path, files: dict[str, object]) -> list[str]:
    for name, content in files.items():
        file = tmp_path / "k8s" / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return [
        "{}/{}/{}: {}: {}".format(*found) for found in checks.scan_tree(tmp_path, tmp_path / "k8s")
    ]


def test_the_repository_has_no_plaintext_secret(root):
    assert list(checks.scan_tree(root, root / "k8s")) == []


def test_a_plaintext_secret_anywhere_is_reported(tmp_path):
    plain = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db"},
        "stringData": {"PASSWORD": "x"},
    }
    assert scan(tmp_path, {"base/db.yaml": plain}) == [
        "k8s/base/db.yaml/Secret/db: data: plaintext Secret in git; encrypt it with "
        "`invoke secrets.encrypt`",
    ]


def test_encrypted_secrets_pass_and_a_plaintext_value_in_one_does_not(tmp_path):
    assert scan(tmp_path, {"overlays/dev/secrets/api-secrets.sops.yaml": ENCRYPTED}) == []
    leaky = {**ENCRYPTED, "stringData": {"EXTRA": "plain"}}
    assert scan(tmp_path, {"overlays/dev/secrets/api-secrets.sops.yaml": leaky}) == [
        "k8s/overlays/dev/secrets/api-secrets.sops.yaml/Secret/api-secrets: stringData.EXTRA: "
        "value is not encrypted",
    ]


def test_a_sops_file_that_is_not_encrypted_is_reported(tmp_path):
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    assert scan(tmp_path, {"x/c.sops.yaml": config_map}) == [
        "k8s/x/c.sops.yaml/ConfigMap/c: sops: missing: the file is not SOPS-encrypted "
        "(`invoke secrets.encrypt`)",
    ]


def test_secret_generators_are_refused(tmp_path):
    kustomization = {
        "kind": "Kustomization",
        "secretGenerator": [{"name": "x", "literals": ["A=b"]}],
    }
    assert scan(tmp_path, {"overlays/dev/kustomization.yaml": kustomization}) == [
        "k8s/overlays/dev/kustomization.yaml/Kustomization/kustomization: secretGenerator: "
        "makes a plaintext Secret from files in git; use SOPS files in the overlay's secrets/ "
        "folder",
    ]


def test_ksops_generator_files_must_exist(tmp_path):
    generator = {
        "apiVersion": "viaduct.ai/v1",
        "kind": "ksops",
        "metadata": {"name": "secret-generator"},
        "files": ["./api-secrets.sops.yaml", "./missing.sops.yaml"],
    }
    found = scan(
        tmp_path,
        {
            "overlays/dev/secrets/secret-generator.yaml": generator,
            "overlays/dev/secrets/api-secrets.sops.yaml": ENCRYPTED,
        },
    )
    assert found == [
        "k8s/overlays/dev/secrets/secret-generator.yaml/ksops/secret-generator: files[1]: "
        "./missing.sops.yaml does not exist (`invoke secrets.encrypt` creates it)",
    ]


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_ksops_generator_lists_every_sops_file_of_the_overlay(root, overlay):
    folder = root / "k8s" / "overlays" / overlay / "secrets"
    generator = yaml.safe_load((folder / "secret-generator.yaml").read_text())
    listed = {Path(name).name for name in generator["files"]}
    assert listed == {p.name for p in folder.glob("*.sops.yaml")}


def test_invalid_yaml_is_reported_not_raised(tmp_path):
    assert scan(tmp_path, {"broken.yaml": "a: [b\n"}) == [
        "k8s/broken.yaml/File/broken.yaml: (file): invalid YAML; run yamllint on it",
    ]
