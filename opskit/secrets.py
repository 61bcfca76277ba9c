"""sops + age: the user's key, each overlay's recipients, Secrets encrypted at rest and
decrypted only in memory (for `secrets.show` and the deploy's apply step)."""

from __future__ import annotations

import contextlib
import os
import secrets as random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from opskit import shell
from opskit.errors import CommandFailed, OpsError

SOPS_CONFIG = ".sops.yaml"
ENCRYPTED_REGEX = "^(data|stringData)$"
SUFFIX = ".sops.yaml"
SOPS_TIMEOUT = 60
HEADER = (
    "# sops creation rules, one per overlay (opskit.yaml overlays): only `data`/`stringData` of\n"
    "# Secret manifests are encrypted, to that overlay's age recipients.\n"
    "# `invoke secrets.init --overlay <name>` adds your public key; then someone who can decrypt\n"
    "# runs `invoke secrets.rotate --overlay <name>` so existing files include it.\n"
)


# --- the user's age key --------------------------------------------------------------------


def key_file() -> Path:
    """Where sops looks for age identities: $SOPS_AGE_KEY_FILE, else the XDG config folder."""
    if env := os.environ.get("SOPS_AGE_KEY_FILE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "sops" / "age" / "keys.txt"


def my_recipients() -> tuple[str, ...]:
    """Public keys of the user's age identities; () when there are none."""
    if content := os.environ.get("SOPS_AGE_KEY"):
        shell.secret(content)
        found = shell.run(["age-keygen", "-y"], stdin=content, timeout=20)
    elif key_file().is_file():
        found = shell.run(["age-keygen", "-y", str(key_file())], timeout=20)
    else:
        return ()
    return tuple(found.stdout.split())


def ensure_key(cfg) -> tuple[str, bool]:
    """The user's public key and whether it was just created (0600, never in the repository)."""
    if mine := my_recipients():
        return mine[0], False
    path = key_file()
    if path.resolve().is_relative_to(cfg.root.resolve()):
        raise OpsError(
            f"age key location {path} is inside the repository",
            "point SOPS_AGE_KEY_FILE outside it (default ~/.config/sops/age/keys.txt)",
        )
    if not shell.is_dry_run():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    shell.run(["age-keygen", "-o", str(path)], mutates=True, timeout=20, what="create age key")
    return (my_recipients() or ("<new age key>",))[0], True


# --- .sops.yaml ----------------------------------------------------------------------------


def _rel(cfg, path: Path) -> str:
    return path.resolve().relative_to(cfg.root.resolve()).as_posix()


def path_regex(cfg, overlay) -> str:
    return "^" + _rel(cfg, overlay.path).replace(".", r"\.") + r"/secrets/[^/]+\.sops\.yaml$"


def rules(cfg) -> list[dict]:
    import yaml

    file = cfg.root / SOPS_CONFIG
    data = yaml.safe_load(file.read_text()) if file.is_file() else None
    return list((data or {}).get("creation_rules") or [])


def _keys(rule: dict) -> tuple[str, ...]:
    age = rule.get("age") or ""
    items = age if isinstance(age, list) else age.split(",")
    return tuple(k.strip() for k in items if k.strip())


def rule_for(cfg, rel: str) -> dict | None:
    """The first creation rule whose path_regex matches a repo-relative path (sops' own order)."""
    import re

    return next((r for r in rules(cfg) if re.search(r.get("path_regex", "$^"), rel)), None)


def overlay_recipients(cfg, overlay) -> tuple[str, ...]:
    rule = rule_for(cfg, _rel(cfg, overlay.path / "secrets" / f"x{SUFFIX}"))
    return _keys(rule) if rule else ()


def add_recipient(cfg, overlay, key: str) -> bool:
    """Add a public key to the overlay's creation rule (created if missing); False if present."""
    current = rules(cfg)
    regex = path_regex(cfg, overlay)
    rule = next((r for r in current if r.get("path_regex") == regex), None)
    if rule is None:
        rule = {"path_regex": regex, "encrypted_regex": ENCRYPTED_REGEX, "age": ""}
        current.append(rule)
    if key in _keys(rule):
        return False
    rule["age"] = [*_keys(rule), key]
    _write(cfg.root / SOPS_CONFIG, _render_rules(current), f"add {key} to {SOPS_CONFIG}")
    return True


def _render_rules(items: list[dict]) -> str:
    import yaml

    lines = [HEADER.rstrip("\n"), "creation_rules:"]
    for rule in items:
        extra = {k: v for k, v in rule.items() if k not in ("path_regex", "encrypted_regex", "age")}
        keys = _keys(rule)
        lines += [
            f"  - path_regex: '{rule['path_regex']}'",
            f"    encrypted_regex: '{rule.get('encrypted_regex', ENCRYPTED_REGEX)}'",
            "    age: >-",
            *[f"      {k}," for k in keys[:-1]],
            f"      {keys[-1]}",
        ]
        if extra:
            dumped = yaml.safe_dump(extra, sort_keys=False).splitlines()
            lines += [f"    {line}" for line in dumped]
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str, what: str) -> None:
    """Write a (non-secret) file atomically; under dry-run only say so."""
    if shell.is_dry_run():
        print(f"[dry-run] {what}", file=sys.stderr)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


# --- encrypted files -----------------------------------------------------------------------


def secret_files(overlay) -> list[Path]:
    return sorted((overlay.path / "secrets").glob(f"*{SUFFIX}"))


def load_doc(path: Path) -> dict:
    import yaml

    doc = yaml.safe_load(path.read_text())
    return doc if isinstance(doc, dict) else {}


def file_recipients(path: Path) -> tuple[str, ...]:
    """The age recipients recorded in an encrypted file (no decryption needed)."""
    return tuple(a.get("recipient", "") for a in (load_doc(path).get("sops") or {}).get("age", []))


def encrypt(cfg, path: Path, plaintext: str) -> None:
    """Encrypt a manifest held in memory through sops' stdin; only ciphertext reaches the disk."""
    rel = _rel(cfg, path)
    if rule_for(cfg, rel) is None and not shell.is_dry_run():  # dry-run: rule not written
        raise OpsError(
            f"no creation rule in {SOPS_CONFIG} matches {rel}",
            "run `invoke secrets.init --overlay <name>` first",
        )
    done = shell.run(
        [
            "sops",
            "--encrypt",
            "--filename-override",
            rel,
            "--input-type",
            "yaml",
            "--output-type",
            "yaml",
            "/dev/stdin",
        ],
        stdin=plaintext,
        cwd=str(cfg.root),
        mutates=True,
        timeout=SOPS_TIMEOUT,
        what=f"encrypt {rel}",
    )
    if not shell.is_dry_run():
        _write(path, done.stdout, f"write {rel}")


def register_values(manifest: str) -> None:
    """Mask every value of a decrypted Secret (and its base64 form) in all output."""
    import base64
    import binascii

    import yaml

    for doc in yaml.safe_load_all(manifest):
        if not isinstance(doc, dict):
            continue
        for value in (doc.get("stringData") or {}).values():
            shell.secret(str(value))
        for value in (doc.get("data") or {}).values():
            shell.secret(str(value))
            with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                shell.secret(base64.b64decode(str(value), validate=True).decode())


def _cannot_decrypt(cfg, overlay, path: Path, mine: tuple[str, ...]) -> OpsError:
    needed = ", ".join(file_recipients(path)) or "(no age recipients)"
    rel = _rel(cfg, path)
    if not mine:
        return OpsError(
            f"overlay {overlay.name!r}: {rel} needs an age key for one of {needed}; "
            f"you have none at {key_file()}",
            f"run `invoke secrets.init --overlay {overlay.name}`",
        )
    how = (
        f"ask a holder of one of those keys to run `invoke secrets.rotate --overlay "
        f"{overlay.name}` after `invoke secrets.init --overlay {overlay.name}` added yours"
    )
    if not overlay.protected:
        how += f" (or regenerate dev values: `invoke secrets.init --overlay {overlay.name}`)"
    return OpsError(
        f"overlay {overlay.name!r}: {rel} is encrypted to {needed}, "
        f"not to your key {', '.join(mine)}",
        how,
    )


def decrypt(cfg, overlay, path: Path, mine: tuple[str, ...] | None = None) -> str:
    """One decrypted manifest, in memory, its values registered for redaction."""
    mine = my_recipients() if mine is None else mine
    if not set(mine) & set(file_recipients(path)):
        raise _cannot_decrypt(cfg, overlay, path, mine)
    rel = _rel(cfg, path)
    try:
        out = shell.run(["sops", "--decrypt", rel], cwd=str(cfg.root), timeout=SOPS_TIMEOUT)
    except CommandFailed as exc:
        last = (exc.stderr_tail.strip().splitlines() or ["no output"])[-1]
        raise OpsError(
            f"overlay {overlay.name!r}: cannot decrypt {rel}: {last}",
            "check your key and the file (`invoke secrets.check`)",
        ) from None
    register_values(out.stdout)
    return out.stdout


def decrypted_secrets(cfg, overlay) -> list[bytes]:
    """Every Secret of the overlay decrypted in memory, all before any is applied.

    Validation first: a file the user's key cannot open fails with one line naming the overlay
    and the recipients it needs, before any decryption starts.
    """
    files = secret_files(overlay)
    if not files:
        raise OpsError(
            f"overlay {overlay.name!r} has no encrypted Secrets in "
            f"{_rel(cfg, overlay.path)}/secrets",
            f"run `invoke secrets.init --overlay {overlay.name}`",
        )
    mine = my_recipients()
    for path in files:
        if not set(mine) & set(file_recipients(path)):
            raise _cannot_decrypt(cfg, overlay, path, mine)
    return [decrypt(cfg, overlay, path, mine).encode() for path in files]


decrypt_overlay = decrypted_secrets  # the name opskit.deploy calls


def apply_steps(cfg, overlay, apply_argv: Sequence[str]) -> list[shell.Step]:
    """One apply Step per Secret, its manifest on stdin from memory (decrypted all first)."""
    return [
        shell.Step(
            argv=tuple(apply_argv),
            stdin=manifest,
            mutates=True,
            what=f"apply Secrets of {overlay.name}",
            timeout=SOPS_TIMEOUT,
        )
        for manifest in decrypted_secrets(cfg, overlay)
    ]


def decrypt_step(cfg, path: Path) -> shell.Step:
    """`sops --decrypt <file>` as a Step, for a pipeline such as `... | kubectl apply -f -`."""
    return shell.Step(
        argv=("sops", "--decrypt", _rel(cfg, path)),
        cwd=str(cfg.root),
        what=f"decrypt {_rel(cfg, path)}",
        timeout=SOPS_TIMEOUT,
    )


def update_keys(cfg, path: Path) -> None:
    """Re-encrypt the data key to exactly the recipients .sops.yaml lists for the file."""
    shell.run(
        ["sops", "updatekeys", "--yes", _rel(cfg, path)],
        cwd=str(cfg.root),
        mutates=True,
        timeout=SOPS_TIMEOUT,
        what="update recipients",
    )


def rotate(cfg, overlay) -> list[str]:
    """New data key for every file of the overlay, encrypted to the current recipients."""
    mine = my_recipients()
    files = secret_files(overlay)
    for path in files:  # all-or-nothing: check every file before rewriting any
        if not set(mine) & set(file_recipients(path)):
            raise _cannot_decrypt(cfg, overlay, path, mine)
    for path in files:
        update_keys(cfg, path)
        shell.run(
            ["sops", "rotate", "--in-place", _rel(cfg, path)],
            cwd=str(cfg.root),
            mutates=True,
            timeout=SOPS_TIMEOUT,
            what="rotate data key",
        )
    return [_rel(cfg, p) for p in files]


# --- generated Secrets and `secrets.init` --------------------------------------------------

GENERATED = {"api-secrets": ("api", "api"), "postgres-credentials": ("postgres", "database")}


def generate_values(cfg, overlay) -> dict[str, dict[str, str]]:
    """Fresh random values for the overlay's Secrets (URL-safe, so they fit in URLs)."""
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
    }


def _token(nbytes: int) -> str:
    return random.token_urlsafe(nbytes)


def secret_manifest(cfg, overlay, name: str, values: dict[str, str]) -> str:
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


def init(cfg, overlay, force: bool = False) -> InitReport:
    """Key, recipient and the overlay's generated Secrets; a second run changes nothing."""
    key, created = ensure_key(cfg)
    report = InitReport(key, created, add_recipient(cfg, overlay, key))
    mine = my_recipients() or (key,)
    paths = {name: overlay.path / "secrets" / f"{name}{SUFFIX}" for name in GENERATED}
    state = {
        n: "missing"
        if not p.is_file()
        else "ok"
        if set(mine) & set(file_recipients(p))
        else "foreign"
        for n, p in paths.items()
    }
    regenerate = force or any(s != "ok" for s in state.values())
    if regenerate and overlay.protected and not force and set(state.values()) != {"missing"}:
        foreign = [n for n, s in state.items() if s == "foreign"]
        if foreign:  # never replace protected values implicitly
            raise _cannot_decrypt(cfg, overlay, paths[foreign[0]], mine)
        raise OpsError(
            f"overlay {overlay.name!r} is protected and only some of its Secrets exist",
            f"restore them, or regenerate all: `invoke secrets.init --overlay "
            f"{overlay.name} --force`",
        )
    if regenerate:
        if "foreign" in state.values():
            report.notes.append(
                "existing values were encrypted to other keys: regenerated for "
                "the recipients in .sops.yaml (yours included)"
            )
        for name, values in generate_values(cfg, overlay).items():
            for value in values.values():
                shell.secret(value)
            encrypt(cfg, paths[name], secret_manifest(cfg, overlay, name, values))
            report.written.append(_rel(cfg, paths[name]))
    wanted = set(overlay_recipients(cfg, overlay))
    for path in secret_files(overlay):
        have = set(file_recipients(path))
        if have != wanted and have & set(mine) and _rel(cfg, path) not in report.written:
            update_keys(cfg, path)
            report.updated.append(_rel(cfg, path))
    return report


# --- show / encrypt from stdin -------------------------------------------------------------


def secret_path(overlay, name: str) -> Path:
    return overlay.path / "secrets" / f"{name}{SUFFIX}"


def show(cfg, overlay, name: str) -> str:
    """The decrypted manifest of one Secret (for a terminal; the caller decides)."""
    path = secret_path(overlay, name)
    if not path.is_file():
        known = ", ".join(p.name.removesuffix(SUFFIX) for p in secret_files(overlay)) or "none"
        raise OpsError(f"overlay {overlay.name!r} has no Secret {name!r}", f"known: {known}")
    return decrypt(cfg, overlay, path)


def encrypt_manifest(cfg, overlay, text: str, force: bool = False) -> str:
    """Encrypt one plaintext Secret manifest (read from stdin) into the overlay's secrets/."""
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        raise OpsError("stdin is not valid YAML", "pipe one Secret manifest") from None
    if len(docs) != 1 or not isinstance(docs[0], dict) or docs[0].get("kind") != "Secret":
        raise OpsError(
            "stdin must hold exactly one `kind: Secret` manifest",
            "split multi-document files, one Secret per file",
        )
    name = (docs[0].get("metadata") or {}).get("name")
    if not name:
        raise OpsError("the Secret has no metadata.name", "add one")
    register_values(text)
    path = secret_path(overlay, name)
    if path.exists() and not force:
        raise OpsError(
            f"{_rel(cfg, path)} exists",
            f"edit it: `invoke secrets.edit --overlay {overlay.name} --name {name}`, "
            "or pass --force to replace it",
        )
    encrypt(cfg, path, text)
    return _rel(cfg, path)


def edit(cfg, overlay, name: str) -> None:
    """Open one Secret in $EDITOR through sops (which re-encrypts on save)."""
    path = secret_path(overlay, name)
    if not path.is_file():
        raise OpsError(
            f"{_rel(cfg, path)} not found",
            f"create it: `invoke secrets.encrypt --overlay {overlay.name} < x.yaml`",
        )
    if "interactive" not in shell.Step.__dataclass_fields__:  # until shell.py can hand over a TTY
        raise OpsError(
            "secrets.edit needs a terminal-attached command layer",
            f"meanwhile run `sops edit {_rel(cfg, path)}` from {cfg.root}",
        )
    shell.run(
        ["sops", "edit", _rel(cfg, path)],
        cwd=str(cfg.root),
        mutates=True,
        interactive=True,
        timeout=3600,
        what=f"edit {name}",
    )


# --- secrets.check -------------------------------------------------------------------------

PATTERNS = (  # (what, regex); none of these sources matches itself
    ("private key", r"-----BEGIN (?:[A-Z0-9]+ )*" + "PRIVATE" + r" KEY-----"),
    ("age secret key", "AGE-SECRET-" + r"KEY-1[0-9A-Z]{58}"),
    ("AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    ("AWS secret access key", r"(?i)aws_secret_access_key\W{1,4}[A-Za-z0-9/+]{40}"),
    (
        "password value",
        r"""(?i)[\w.-]*(?:password|passwd)["']?\s*[:=]\s*(?P<q>["']?)(?P<value>[^\s"',#}]+)""",
    ),
)
PLACEHOLDERS = {"postgres", "password", "changeme", "example", "secret", "dummy", "redacted"}
CODE_SUFFIXES = {".py", ".ex", ".exs", ".sh", ".js", ".ts", ".go", ".heex", ".eex"}
ALLOW = "pragma: allowlist secret"  # the detect-secrets marker for a reviewed false positive


def check(cfg) -> list[str]:
    """Findings, one line each: plaintext Secrets, recipient drift, undecryptable files,
    credential patterns in the files git tracks (or would track: untracked, not ignored)."""
    files = _candidate_files(cfg)
    findings = []
    mine = my_recipients()
    for rel in files:
        text = _read_text(cfg.root / rel)
        if text is None:
            continue
        findings += _scan_text(rel, text)
        if rel.endswith((".yaml", ".yml")):
            findings += _check_yaml(cfg, rel, text, mine)
    return findings


def _candidate_files(cfg) -> list[str]:
    listed = shell.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=str(cfg.root),
        timeout=30,
        hint="secrets.check reads the file list from git: run it in the clone",
    )
    return sorted({f for f in listed.stdout.split("\0") if f})


def _read_text(path: Path) -> str | None:
    if path.is_symlink() or not path.is_file() or path.stat().st_size > 2_000_000:
        return None
    data = path.read_bytes()
    return None if b"\0" in data[:8192] else data.decode(errors="replace")


def _scan_text(rel: str, text: str) -> list[str]:
    import re

    found = []
    code = Path(rel).suffix in CODE_SUFFIXES
    for number, line in enumerate(text.splitlines(), 1):
        if ALLOW in line:
            continue
        for what, regex in PATTERNS:
            match = re.search(regex, line)
            if match and (what != "password value" or _literal(match, code)):
                found.append(
                    f"{rel}:{number}: plaintext {what}; remove it (encrypt with sops, "
                    f"or mark a reviewed false positive with `# {ALLOW}`)"
                )
    return found


def _literal(match, code: bool) -> bool:
    """A password assigned a literal (not a reference, template, ciphertext or placeholder)."""
    value = match.group("value")
    if value.startswith(("ENC[", "$", "{", "<", "%", "(", "[", "@")) or "(" in value:
        return False
    if code and not match.group("q"):  # a variable in code, not a string literal
        return False
    return len(value) >= 6 and value.lower() not in PLACEHOLDERS


def _check_yaml(cfg, rel: str, text: str, mine: tuple[str, ...]) -> list[str]:
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    except yaml.YAMLError:
        return []  # yamllint reports syntax; templated files are not Secrets
    found = []
    for doc in docs:
        if "sops" in doc:
            found += _check_encrypted(cfg, rel, doc, mine)
        elif doc.get("kind") == "Secret" and (
            doc.get("data") or doc.get("stringData") or rel.startswith("k8s/")
        ):
            name = (doc.get("metadata") or {}).get("name", "?")
            found.append(
                f"{rel}: Secret {name!r} is not SOPS-encrypted; encrypt it: "
                f"`invoke secrets.encrypt --overlay <name> < {rel}` and delete {rel}"
            )
        elif doc.get("kind") == "Kustomization" and any(
            g.get("literals") for g in doc.get("secretGenerator") or [] if isinstance(g, dict)
        ):
            found.append(
                f"{rel}: secretGenerator literals keep Secret values in plaintext; "
                "use a sops-encrypted Secret (secrets/*.sops.yaml) instead"
            )
    return found


def _check_encrypted(cfg, rel: str, doc: dict, mine: tuple[str, ...]) -> list[str]:
    values = [*(doc.get("data") or {}).values(), *(doc.get("stringData") or {}).values()]
    if any(not str(v).startswith("ENC[") for v in values):
        return [
            f"{rel}: some data/stringData values are not encrypted; re-encrypt the file "
            "(`invoke secrets.edit` and save)"
        ]
    rule = rule_for(cfg, rel)
    have = tuple(a.get("recipient", "") for a in (doc["sops"] or {}).get("age") or [])
    if rule is None:
        return [
            f"{rel}: no creation rule in {SOPS_CONFIG} matches this encrypted file; "
            "add one (`invoke secrets.init --overlay <name>`)"
        ]
    if set(have) != set(_keys(rule)):
        return [
            f"{rel}: encrypted to {len(have)} recipient(s) but {SOPS_CONFIG} lists "
            f"{len(_keys(rule))}; sync it: `invoke secrets.rotate --overlay <name>`"
        ]
    if set(mine) & set(have):
        done = shell.run(
            ["sops", "--decrypt", rel], cwd=str(cfg.root), timeout=SOPS_TIMEOUT, check=False
        )
        if done.returncode != 0:
            return [
                f"{rel}: does not decrypt with your key (corrupt or MAC mismatch); "
                "restore it from git history"
            ]
        register_values(done.stdout)
    return []
