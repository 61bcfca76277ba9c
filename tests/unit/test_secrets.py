"""secrets with the real sops and age: init, round trips, foreign keys, rotate, the tasks.

Every test runs in a copy of opskit.yaml in a temp folder with its own HOME, XDG config and
SOPS_AGE_KEY_FILE, so the user's real age key is never read or written.
"""

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from invoke import Context, Exit

from opskit.core import shell
from opskit.core.errors import OpsError
from opskit.secrets import generate, sops
from opskit.tasks import secrets as secrets_tasks
from tests import fakes
from tests.unit.conftest import needs_sops

ROOT = Path(__file__).resolve().parents[2]
pytestmark = needs_sops


@pytest.fixture
def cfg(secrets_project):
    """A project root in tmp_path, with an isolated user key location."""
    return secrets_project


def other_key(tmp_path: Path, name: str = "other") -> tuple[Path, str]:
    """Someone else's age key (in tmp_path), and its public key."""
    path = tmp_path / f"{name}.txt"
    shell.run(["age-keygen", "-o", str(path)])
    return path, shell.run(["age-keygen", "-y", str(path)]).stdout.strip()


def as_user(monkeypatch, key_path: Path) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key_path))


def encrypt_as_other(cfg, monkeypatch, tmp_path, overlay: str) -> str:
    """The overlay's Secrets as a teammate made them: encrypted only to their key."""
    key, public = other_key(tmp_path, f"other-{overlay}")
    user = os.environ["SOPS_AGE_KEY_FILE"]
    as_user(monkeypatch, key)
    generate.init(cfg, cfg.overlay(overlay))
    as_user(monkeypatch, Path(user))
    return public


def context(cfg) -> Context:
    c = Context()
    c.config._opskit_config = cfg
    return c


def plain(cfg, name="api-secrets", overlay="dev") -> dict:
    ov = cfg.overlay(overlay)
    return yaml.safe_load(sops.decrypt(cfg, ov, sops.secret_path(ov, name)))["stringData"]


def test_key_file_follows_sops_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(tmp_path / "explicit.txt"))
    assert sops.key_file() == tmp_path / "explicit.txt"
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert sops.key_file() == tmp_path / "xdg/sops/age/keys.txt"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert sops.key_file() == tmp_path / "home/.config/sops/age/keys.txt"


def test_init_creates_key_rule_and_encrypted_secrets(cfg):
    report = generate.init(cfg, cfg.overlay("dev"))
    key = sops.key_file()
    assert report.key_created and report.recipient_added
    assert key.stat().st_mode & 0o777 == 0o600 and not key.is_relative_to(cfg.root)
    rule = sops.rules(cfg)[0]
    assert rule["encrypted_regex"] == "^(data|stringData)$"
    assert sops.overlay_recipients(cfg, cfg.overlay("dev")) == (report.key,)
    api, db = plain(cfg), plain(cfg, "postgres-credentials")
    assert len(api["SECRET_KEY_BASE"]) >= 64
    assert f":{db['POSTGRES_PASSWORD']}@postgres:5432/{db['POSTGRES_DB']}" in api["DATABASE_URL"]
    for path in sops.secret_files(cfg.overlay("dev")):
        text = path.read_text()
        assert all(str(v) not in text for v in [*api.values(), *db.values()] if len(v) > 12)
        assert all(v.startswith("ENC[") for v in yaml.safe_load(text)["stringData"].values())


def test_init_twice_changes_nothing_unless_forced(cfg):
    dev = cfg.overlay("dev")
    generate.init(cfg, dev)
    before = {p: p.read_bytes() for p in [*sops.secret_files(dev), cfg.root / ".sops.yaml"]}
    report = generate.init(cfg, dev)
    assert not (report.key_created or report.recipient_added or report.written or report.updated)
    assert {p: p.read_bytes() for p in before} == before
    old = plain(cfg)["SECRET_KEY_BASE"]
    assert generate.init(cfg, dev, force=True).written
    assert plain(cfg)["SECRET_KEY_BASE"] != old


def test_init_dry_run_writes_nothing(cfg, capsys):
    generate.init(cfg, cfg.overlay("dev"), dry_run=True)
    assert not sops.key_file().exists()
    assert not (cfg.root / ".sops.yaml").exists()
    assert not sops.secret_files(cfg.overlay("dev"))
    assert "[dry-run] age-keygen -o" in capsys.readouterr().err


def test_encrypt_from_stdin_round_trip(cfg):
    dev = cfg.overlay("dev")
    generate.init(cfg, dev)
    manifest = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: extra\n"
        "stringData:\n  TOKEN: t0k3n-value-xyz\n"
    )
    rel = generate.encrypt_manifest(cfg, dev, manifest)
    assert rel == "k8s/overlays/dev/secrets/extra.sops.yaml"
    assert "t0k3n-value-xyz" not in (cfg.root / rel).read_text()
    assert plain(cfg, "extra") == {"TOKEN": "t0k3n-value-xyz"}
    with pytest.raises(OpsError, match="exists"):
        generate.encrypt_manifest(cfg, dev, manifest)
    with pytest.raises(OpsError, match="exactly one `kind: Secret`"):
        generate.encrypt_manifest(cfg, dev, "kind: ConfigMap\n")


def test_foreign_key_fails_with_one_line_and_nothing_is_applied(cfg, tmp_path, monkeypatch):
    public = encrypt_as_other(cfg, monkeypatch, tmp_path, "dev")
    generate.ensure_key(cfg)
    dev = cfg.overlay("dev")
    with fakes.recorder({"kubectl": (0, "", "")}) as calls, pytest.raises(OpsError) as caught:
        sops.decrypted_secrets(cfg, dev)  # what deploy decrypts before anything is applied
    assert calls == []
    message = str(caught.value)
    assert "\n" not in message
    assert "overlay 'dev'" in message and public in message and "secrets.init" in message


def test_one_file_decrypted_alone_refuses_a_foreign_key_in_the_same_line(
    cfg, tmp_path, monkeypatch
):
    """`secrets.show` decrypts one file: a file not encrypted to the user's key gets the
    same one-line error (file, recipients, the way out) as a deploy's decrypt, before sops
    runs."""
    public = encrypt_as_other(cfg, monkeypatch, tmp_path, "dev")
    generate.ensure_key(cfg)
    (mine,) = sops.my_recipients()
    dev = cfg.overlay("dev")
    path = sops.secret_path(dev, "api-secrets")
    with fakes.recorder({"sops": (0, "", "")}) as calls, pytest.raises(OpsError) as caught:
        sops.decrypt(cfg, dev, path)
    assert calls == []
    assert caught.value.message == (
        f"overlay 'dev': {sops.repo_rel(cfg, path)} is encrypted to {public}, "
        f"not to your key {mine}"
    )
    assert caught.value.hint.endswith(
        "(or regenerate dev values: `invoke secrets.init --overlay dev`)"
    )


def test_no_key_at_all_says_how_to_get_one(cfg, tmp_path, monkeypatch):
    encrypt_as_other(cfg, monkeypatch, tmp_path, "dev")
    with pytest.raises(OpsError, match=r"you have none at .*secrets\.init --overlay dev"):
        sops.decrypted_secrets(cfg, cfg.overlay("dev"))


def test_fresh_clone_regenerates_dev_but_never_prod(cfg, tmp_path, monkeypatch):
    other_dev = encrypt_as_other(cfg, monkeypatch, tmp_path, "dev")
    other_prod = encrypt_as_other(cfg, monkeypatch, tmp_path, "prod")
    prod = cfg.overlay("prod")
    prod_before = {p: p.read_bytes() for p in sops.secret_files(prod)}
    report = generate.init(cfg, cfg.overlay("dev"))
    assert report.written and report.notes
    assert set(sops.file_recipients(sops.secret_files(cfg.overlay("dev"))[0])) == {
        other_dev,
        report.key,
    }
    assert len(sops.decrypted_secrets(cfg, cfg.overlay("dev"))) == len(generate.GENERATED)
    with pytest.raises(OpsError, match=f"overlay 'prod'.*{other_prod}"):
        generate.init(cfg, prod)
    assert {p: p.read_bytes() for p in sops.secret_files(prod)} == prod_before
    assert report.key in sops.overlay_recipients(cfg, prod)  # ready for a rotate by a holder


def test_rotate_new_data_key_same_values_current_recipients(cfg, tmp_path):
    dev = cfg.overlay("dev")
    generate.init(cfg, dev)
    path = sops.secret_path(dev, "api-secrets")
    before_text, before = path.read_text(), plain(cfg)
    _, teammate = other_key(tmp_path)
    assert generate.add_recipient(cfg, dev, teammate)
    assert sops.rotate(cfg, dev) == [sops.repo_rel(cfg, p) for p in sops.secret_files(dev)]
    after = yaml.safe_load(path.read_text())
    assert after["stringData"] != yaml.safe_load(before_text)["stringData"]
    assert teammate in sops.file_recipients(path)
    assert plain(cfg) == before


def test_decrypted_secrets_need_files(cfg):
    generate.ensure_key(cfg)
    with pytest.raises(OpsError, match=r"no encrypted Secrets.*secrets\.init --overlay dev"):
        sops.decrypted_secrets(cfg, cfg.overlay("dev"))


def test_show_task_refuses_a_pipe_without_yes(cfg, capsys):
    generate.init(cfg, cfg.overlay("dev"))
    with pytest.raises(Exit):
        secrets_tasks.show(context(cfg), overlay="dev", name="api-secrets")
    captured = capsys.readouterr()
    assert "refusing to write decrypted values" in captured.err and captured.out == ""
    secrets_tasks.show(context(cfg), overlay="dev", name="api-secrets", yes=True)
    assert "SECRET_KEY_BASE" in capsys.readouterr().out
    with pytest.raises(Exit):
        secrets_tasks.show(context(cfg), overlay="dev", name="nope", yes=True)
    assert "known: api-secrets, mqtt-passwd, postgres-credentials" in capsys.readouterr().err


def test_init_and_rotate_tasks_report(cfg, capsys):
    secrets_tasks.init(context(cfg), overlay="dev")
    assert "wrote k8s/overlays/dev/secrets/api-secrets.sops.yaml" in capsys.readouterr().err
    secrets_tasks.init(context(cfg), overlay="dev")
    assert "nothing changed" in capsys.readouterr().err
    secrets_tasks.rotate(context(cfg), overlay="dev")
    assert "rotated k8s/overlays/dev/secrets/postgres-credentials.sops.yaml" in (
        capsys.readouterr().err
    )


def test_a_missing_group_is_made_alone_even_in_a_protected_overlay(cfg):
    """Secrets that belong together are made together; existing ones are never regenerated."""
    prod = cfg.overlay("prod")
    generate.init(cfg, prod)
    mqtt = ("mqtt-passwd", "telemetry-mqtt", "simulator-credentials")
    kept = {p: p.read_bytes() for p in sops.secret_files(prod) if p.name.split(".")[0] not in mqtt}
    for name in mqtt:
        sops.secret_path(prod, name).unlink()
    report = generate.init(cfg, prod)
    assert sorted(Path(p).name for p in report.written) == sorted(f"{n}.sops.yaml" for n in mqtt)
    assert {p: p.read_bytes() for p in kept} == kept
    device, password = (
        plain(cfg, "simulator-credentials", "prod")["devices.txt"].split()[0].split(":")
    )
    passwd = plain(cfg, "mqtt-passwd", "prod")["passwd"]
    assert f"\n{device}:$7$101$" in passwd and password not in passwd


@pytest.mark.parametrize(
    ("overlay", "regenerate"),
    [("dev", " (or regenerate dev values: `invoke secrets.init --overlay dev`)"), ("prod", "")],
)
def test_a_rotate_without_access_names_the_file_the_keys_and_the_way_out(
    cfg, tmp_path, monkeypatch, overlay, regenerate
):
    public = encrypt_as_other(cfg, monkeypatch, tmp_path, overlay)
    generate.ensure_key(cfg)
    (mine,) = sops.my_recipients()
    ov = cfg.overlay(overlay)
    before = {p: p.read_bytes() for p in sops.secret_files(ov)}
    with pytest.raises(OpsError) as caught:
        sops.rotate(cfg, ov)
    rel = sops.repo_rel(cfg, sops.secret_files(ov)[0])
    assert str(caught.value) == (
        f"overlay '{overlay}': {rel} is encrypted to {public}, not to your key {mine}; "
        f"ask a holder of one of those keys to run `invoke secrets.rotate --overlay {overlay}` "
        f"after `invoke secrets.init --overlay {overlay}` added yours{regenerate}"
    )
    assert {p: p.read_bytes() for p in sops.secret_files(ov)} == before  # nothing rotated


def _with_value_of(path: Path, old_text: str) -> str:
    """The file at `path` with one value's ciphertext taken from `old_text`: sops opens it
    (ignoring the MAC) only when both were encrypted with the same data key."""
    new, old = yaml.safe_load(path.read_text()), yaml.safe_load(old_text)
    key = next(iter(new["stringData"]))
    new["stringData"][key] = old["stringData"][key]
    return yaml.safe_dump(new, sort_keys=False)


def test_rotate_changes_the_data_key_and_update_keys_keeps_it(cfg, tmp_path):
    dev = cfg.overlay("dev")
    generate.init(cfg, dev)
    path = sops.secret_path(dev, "api-secrets")
    rel = sops.repo_rel(cfg, path)
    probe = cfg.root / "probe.yaml"

    def opens_with(old_text: str) -> bool:
        probe.write_text(_with_value_of(path, old_text))
        argv = ("--decrypt", "--ignore-mac", "--input-type", "yaml", str(probe))
        return sops.run_sops(cfg, *argv, check=False).returncode == 0

    before = path.read_text()
    _, teammate = other_key(tmp_path)
    assert generate.add_recipient(cfg, dev, teammate)  # .sops.yaml only
    assert teammate not in sops.file_recipients(path)
    sops.update_keys(cfg, path)  # the same data key, encrypted to the new recipients too
    assert teammate in sops.file_recipients(path) and opens_with(before)
    updated = path.read_text()
    sops.rotate(cfg, dev)
    assert not opens_with(updated)  # a new data key
    assert rel in sops.rotate(cfg, dev, dry_run=True)


@pytest.mark.parametrize(
    "age", ["age1aaa,age1bbb", " age1aaa , age1bbb ,", ["age1aaa", " age1bbb"]]
)
def test_a_rule_lists_its_recipients_comma_separated_or_as_a_list(age):
    assert sops.rule_recipients({"age": age}) == ("age1aaa", "age1bbb")
    assert sops.rule_recipients({}) == ()


def test_an_encrypt_under_dry_run_says_what_it_would_write_and_writes_nothing(cfg, capsys):
    dev = cfg.overlay("dev")
    generate.init(cfg, dev)
    path = sops.secret_path(dev, "extra")
    sops.encrypt(cfg, path, "apiVersion: v1\nkind: Secret\nmetadata: {name: extra}\n", True)
    assert not path.exists()
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == f"[dry-run] write {sops.repo_rel(cfg, path)}"


def test_the_creation_rule_for_a_file_is_the_one_sops_picks(tmp_path):
    """In order; a rule without a path_regex (or an empty one) matches every file, as in
    sops (`config.go`: an empty PathRegex is taken at once)."""
    project = SimpleNamespace(root=tmp_path)
    rules = [
        {"path_regex": r"overlays/prod/", "age": "age1prod"},
        {"age": "age1anything"},
        {"path_regex": r"overlays/dev/", "age": "age1dev"},
    ]
    (tmp_path / ".sops.yaml").write_text(yaml.safe_dump({"creation_rules": rules}))
    assert sops.rule_for(project, "k8s/overlays/prod/secrets/a.sops.yaml")["age"] == "age1prod"
    assert sops.rule_for(project, "k8s/overlays/dev/secrets/a.sops.yaml")["age"] == "age1anything"
    rules[1]["path_regex"] = ""
    (tmp_path / ".sops.yaml").write_text(yaml.safe_dump({"creation_rules": rules}))
    assert sops.rule_for(project, "anything.yaml")["age"] == "age1anything"
    (tmp_path / ".sops.yaml").write_text(yaml.safe_dump({"creation_rules": rules[2:]}))
    assert sops.rule_for(project, "k8s/overlays/prod/secrets/a.sops.yaml") is None


def test_an_overlays_rule_goes_before_a_catch_all_so_sops_uses_it(cfg, tmp_path):
    """A `.sops.yaml` whose rule without path_regex takes every file: the overlay's rule is
    put before it (sops takes the first match), that rule kept as it was, and the files
    `secrets.init` writes are encrypted to the overlay's recipients only."""
    _, someone = other_key(tmp_path, "catch-all")
    (cfg.root / ".sops.yaml").write_text(yaml.safe_dump({"creation_rules": [{"age": someone}]}))
    dev = cfg.overlay("dev")
    report = generate.init(cfg, dev)
    rules = sops.rules(cfg)
    assert [r.get("path_regex") for r in rules] == [generate.path_regex(cfg, dev), None]
    assert sops.rule_recipients(rules[1]) == (someone,)
    assert sops.file_recipients(sops.secret_path(dev, "api-secrets")) == (report.key,)


def test_values_are_masked_in_every_document_and_bad_base64_is_no_error():
    manifest = (
        "--- a note, not a mapping\n---\n"  # a document that is not a Secret first
        "kind: Secret\nstringData: {A: first-secret-value}\n"
        "data: {B: c2Vjb25kLXNlY3JldC12YWx1ZQ==, C: not-base64-at-all!, D: //79AQ==}\n"
    )  # D: a binary value (a keystore), base64 of bytes that are not UTF-8
    sops.register_values(manifest)
    said = shell.redact("first-secret-value second-secret-value not-base64-at-all! //79AQ==")
    assert "secret" not in said and "not-base64" not in said and "//79AQ==" not in said


def test_the_stub_keeps_a_namespace_the_secret_names(cfg):
    dev = cfg.overlay("dev")
    path = cfg.root / "k8s/overlays/dev/secrets/x.sops.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: elsewhere}\n")
    assert sops.stub(path, dev)["metadata"] == {"name": "x", "namespace": "elsewhere"}
    path.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n")
    assert sops.stub(path, dev)["metadata"] == {"name": "x", "namespace": dev.namespace}


def test_a_file_sops_cannot_open_is_one_line_naming_it(cfg):
    dev = cfg.overlay("dev")
    generate.init(cfg, dev)
    path = sops.secret_path(dev, "api-secrets")
    doc = yaml.safe_load(path.read_text())
    doc["sops"]["mac"] = doc["sops"]["mac"].replace("data:", "data:AAAA", 1)  # tampered
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(OpsError) as caught:
        sops.decrypt(cfg, dev, path)
    rel = sops.repo_rel(cfg, path)
    said = shell.run(["sops", "--decrypt", rel], cwd=str(cfg.root), check=False).stderr
    assert "MAC" in said  # sops' own reason, its last line in the message
    last = said.strip().splitlines()[-1]
    assert caught.value.message == f"overlay 'dev': cannot decrypt {rel}: {last}"
    assert caught.value.hint == "check your key and the file (`invoke secrets.check`)"
    with pytest.raises(OpsError) as in_deploy:  # the deploy's decrypt of every file at once
        sops.decrypted_secrets(cfg, dev)
    assert in_deploy.value.message == caught.value.message


def test_a_key_held_in_sops_age_key_is_the_users_own(cfg, tmp_path, monkeypatch):
    path, public = other_key(tmp_path, "ci")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(tmp_path / "absent.txt"))
    monkeypatch.setenv("SOPS_AGE_KEY", path.read_text())  # as CI passes it
    assert sops.my_recipients() == (public,)
    monkeypatch.delenv("SOPS_AGE_KEY")
    assert sops.my_recipients() == ()


def test_encrypting_a_file_no_rule_covers_says_what_to_run_and_writes_nothing(cfg):
    generate.ensure_key(cfg)
    path = cfg.root / "k8s/stray.sops.yaml"
    with pytest.raises(OpsError) as caught:
        sops.encrypt(cfg, path, "kind: Secret\nstringData: {A: b}\n")
    assert caught.value.message == "no creation rule in .sops.yaml matches k8s/stray.sops.yaml"
    assert caught.value.hint == "run `invoke secrets.init --overlay <name>` first"
    assert not path.exists()
