"""Creating what `opskit.secrets.sops` reads: the user's age key, the overlay's recipient in
.sops.yaml, its generated Secrets (`secrets.init`) and Secrets piped in (`secrets.encrypt`).
Plaintext exists only in memory; sops writes the ciphertext."""

from __future__ import annotations

import secrets as random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.core import args, shell
from opskit.core.errors import OpsError
from opskit.secrets import sops

if TYPE_CHECKING:
    from opskit.core.config import Config, Overlay

ENCRYPTED_REGEX = "^(data|stringData)$"
HEADER = (
    "# sops creation rules, one per overlay (opskit.yaml overlays): only `data`/`stringData` of\n"
    "# Secret manifests are encrypted, to that overlay's age recipients.\n"
    "# `invoke secrets.init --overlay <name>` adds your public key; then someone who can decrypt\n"
    "# runs `invoke secrets.rotate --overlay <name>` so existing files include it.\n"
)
GENERATED = {
    "api-secrets": ("api", "api"),
    "postgres-credentials": ("postgres", "database"),
    "mqtt-passwd": ("mosquitto", "broker"),
    "telemetry-mqtt": ("telemetry", "telemetry"),
    "simulator-credentials": ("device-simulator", "simulator"),
}
# Secrets whose values belong together (one password in two places): made together
GROUPS = (
    ("api-secrets", "postgres-credentials"),
    ("mqtt-passwd", "telemetry-mqtt", "simulator-credentials"),
)


# --- the user's key and the overlay's recipients -------------------------------------------


def ensure_key(cfg: Config, dry_run: bool = False) -> tuple[str, bool]:
    """The user's public key and whether it was just created (0600, never in the repository)."""
    if mine := sops.my_recipients():
        return mine[0], False
    path = sops.key_file()
    if path.resolve().is_relative_to(cfg.root.resolve()):
        raise OpsError(
            f"age key location {path} is inside the repository",
            "point SOPS_AGE_KEY_FILE outside it (default ~/.config/sops/age/keys.txt)",
        )
    if not dry_run:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    shell.run(
        ["age-keygen", "-o", str(path)],
        mutates=True,
        dry_run=dry_run,
        timeout=20,
        what="create age key",
    )
    return (sops.my_recipients() or ("<new age key>",))[0], True


def path_regex(cfg: Config, overlay: Overlay) -> str:
    rel = sops.repo_rel(cfg, overlay.path)
    return "^" + rel.replace(".", r"\.") + r"/secrets/[^/]+\.sops\.yaml$"


def add_recipient(cfg: Config, overlay: Overlay, key: str, dry_run: bool = False) -> bool:
    """Add a public key to the overlay's creation rule (created if missing); False if present."""
    current = sops.rules(cfg)
    regex = path_regex(cfg, overlay)
    rule = next((r for r in current if r.get("path_regex") == regex), None)
    if rule is None:
        rule = {"path_regex": regex, "encrypted_regex": ENCRYPTED_REGEX, "age": ""}
        # before any rule sops would pick for the overlay's files now (a catch-all): sops
        # takes the first that matches, so one appended after it would never be used
        taken = sops.rule_for(cfg, sops.repo_rel(cfg, sops.secret_path(overlay, "x")))
        current.insert(current.index(taken) if taken else len(current), rule)
    if key in sops.rule_recipients(rule):
        return False
    rule["age"] = [*sops.rule_recipients(rule), key]
    config = sops.SOPS_CONFIG
    sops.write_atomic(cfg.root / config, _render_rules(current), f"add {key} to {config}", dry_run)
    return True


def _render_rules(items: list[dict]) -> str:
    import yaml

    lines = [HEADER.rstrip("\n"), "creation_rules:"]
    for rule in items:
        extra = {k: v for k, v in rule.items() if k not in ("path_regex", "encrypted_regex", "age")}
        keys = sops.rule_recipients(rule)
        item = [f"path_regex: '{rule['path_regex']}'"] if "path_regex" in rule else []  # or all
        item += [f"encrypted_regex: '{rule.get('encrypted_regex', ENCRYPTED_REGEX)}'"]
        if keys:
            item += ["age: >-", *[f"  {k}," for k in keys[:-1]], f"  {keys[-1]}"]
        if extra:
            item += yaml.safe_dump(extra, sort_keys=False).splitlines()
        lines += [f"  - {item[0]}", *[f"    {line}" for line in item[1:]]]
    return "\n".join(lines) + "\n"


# --- generated Secrets and `secrets.init` --------------------------------------------------


def generate_values(cfg: Config, overlay: Overlay) -> dict[str, dict[str, str]]:
    """Fresh random values for the overlay's Secrets (URL-safe, so they fit in URLs)."""
    from opskit.services import telemetry

    user = cfg.project.name.replace("-", "_")
    database = f"{user}_{overlay.name}"
    password = _token(32)
    return {
        "api-secrets": {
            "SECRET_KEY_BASE": _token(64),
            "DATABASE_URL": f"ecto://{user}:{password}@postgres:5432/{database}",
            "REDIS_URL": "redis://redis:6379/0",
        },
        "postgres-credentials": {
            "POSTGRES_USER": user,
            "POSTGRES_PASSWORD": password,
            "POSTGRES_DB": database,
        },
        **telemetry.secret_values(token=_token),
    }


def _token(nbytes: int) -> str:
    return random.token_urlsafe(nbytes)


def secret_manifest(cfg: Config, overlay: Overlay, name: str, values: dict[str, str]) -> str:
    import yaml

    app, component = GENERATED.get(name, (name, "secrets"))
    labels = {
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/part-of": cfg.project.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "opskit",
    }
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": overlay.namespace, "labels": labels},
        "type": "Opaque",
        "stringData": values,
    }
    return yaml.safe_dump(doc, sort_keys=False)


@dataclass
class InitReport:
    key: str
    key_created: bool = False
    recipient_added: bool = False
    written: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def init(cfg: Config, overlay: Overlay, force: bool = False, dry_run: bool = False) -> InitReport:
    """Key, recipient and the overlay's generated Secrets; a second run changes nothing."""
    all_paths = {n: sops.secret_path(overlay, n) for n in GENERATED}  # checked first
    key, created = ensure_key(cfg, dry_run)
    report = InitReport(key, created, add_recipient(cfg, overlay, key, dry_run))
    mine = sops.my_recipients() or (key,)
    todo: dict[str, Path] = {}
    for group in GROUPS:
        paths = {name: all_paths[name] for name in group}
        state = {name: _state(path, mine) for name, path in paths.items()}
        if force or any(s != "ok" for s in state.values()):
            if not force:
                _refuse_partial_protected(cfg, overlay, state, paths, mine)
            if "foreign" in state.values() and not report.notes:
                report.notes.append(
                    "existing values were encrypted to other keys: regenerated for "
                    "the recipients in .sops.yaml (yours included)"
                )
            todo |= paths
    if todo:
        _write_generated(cfg, overlay, todo, report, dry_run)
    _sync_recipients(cfg, overlay, mine, report, dry_run)
    return report


def _state(path: Path, mine: tuple[str, ...]) -> str:
    if not path.is_file():
        return "missing"
    return "ok" if sops.opens(path, mine) else "foreign"


def _refuse_partial_protected(
    cfg: Config, overlay: Overlay, state: dict, paths: dict, mine: tuple
) -> None:
    """Never replace a protected overlay's values implicitly (only all-missing is regenerated)."""
    if not overlay.protected or set(state.values()) == {"missing"}:
        return
    if foreign := [n for n, s in state.items() if s == "foreign"]:
        raise sops.cannot_decrypt(cfg, overlay, paths[foreign[0]], mine)
    raise OpsError(
        f"overlay {overlay.name!r} is protected and only some of its Secrets exist",
        f"restore them, or regenerate all: `invoke secrets.init --overlay {overlay.name} --force`",
    )


def _write_generated(
    cfg, overlay, paths: dict[str, Path], report: InitReport, dry_run: bool
) -> None:
    for name, values in generate_values(cfg, overlay).items():
        if name not in paths:
            continue
        for value in values.values():
            sops.mask(value)
        sops.encrypt(cfg, paths[name], secret_manifest(cfg, overlay, name, values), dry_run)
        report.written.append(sops.repo_rel(cfg, paths[name]))


def _sync_recipients(
    cfg, overlay, mine: tuple[str, ...], report: InitReport, dry_run: bool
) -> None:
    """Re-encrypt files the user can open to the recipients .sops.yaml now lists."""
    wanted = set(sops.overlay_recipients(cfg, overlay))
    for path in sops.secret_files(overlay):
        rel = sops.repo_rel(cfg, path)
        have = set(sops.file_recipients(path))
        if have != wanted and have & set(mine) and rel not in report.written:
            sops.update_keys(cfg, path, dry_run)
            report.updated.append(rel)


# --- `secrets.encrypt`: one Secret from stdin ----------------------------------------------


def encrypt_manifest(
    cfg: Config, overlay: Overlay, text: str, force: bool = False, dry_run: bool = False
) -> str:
    """Encrypt one plaintext Secret manifest (read from stdin) into the overlay's secrets/."""
    from opskit.core import yamlio

    docs = yamlio.load_all(text, "stdin")
    if len(docs) != 1 or not isinstance(docs[0], dict) or docs[0].get("kind") != "Secret":
        raise OpsError(
            "stdin must hold exactly one `kind: Secret` manifest",
            "split multi-document files, one Secret per file",
        )
    sops.register_values(text)
    check_secret(docs[0])
    name = args.k8s_name(docs[0]["metadata"]["name"], "metadata.name")
    path = sops.secret_path(overlay, name)
    rel = sops.repo_rel(cfg, path)
    if path.exists() and not force:
        raise OpsError(
            f"{rel} exists",
            f"edit it: `invoke secrets.edit --overlay {overlay.name} --name {name}`, "
            "or pass --force to replace it",
        )
    sops.encrypt(cfg, path, text, dry_run)
    return rel


SECRET_FIELDS = ("apiVersion", "kind", "metadata", "type", "immutable", "data", "stringData")


def check_secret(doc: dict) -> None:
    """A v1 Secret with only the fields Kubernetes knows, string values (base64 under
    `data`): what sops leaves unencrypted (any other field) never reaches the disk."""
    import difflib

    for key in doc:
        if key not in SECRET_FIELDS:
            close = difflib.get_close_matches(str(key), SECRET_FIELDS, n=1, cutoff=0.6)
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            raise OpsError(
                f"the Secret has an unknown field {key!r}{guess}; it would be stored unencrypted",
                f"use only {', '.join(SECRET_FIELDS)}",
            )
    if doc.get("apiVersion") != "v1":
        raise OpsError("the Secret's apiVersion must be v1", "set `apiVersion: v1`")
    if not isinstance(doc.get("metadata"), dict) or not doc["metadata"].get("name"):
        raise OpsError("the Secret has no metadata.name", "add one")
    for section in ("data", "stringData"):
        _check_values(doc.get(section) or {}, section)


def _check_values(values: object, section: str) -> None:
    import base64
    import binascii

    if not isinstance(values, dict):
        raise OpsError(f"the Secret's {section} is not a mapping", "use `KEY: value` lines")
    for key, value in values.items():
        if not isinstance(value, str):
            raise OpsError(f"{section}.{key} is not a string", "quote the value")
        if section == "data":
            try:
                base64.b64decode(value, validate=True)
            except binascii.Error:
                raise OpsError(
                    f"{section}.{key} is not base64", "encode it, or put it under stringData"
                ) from None
