"""`secrets.check`: plaintext Secrets, recipient drift, undecryptable files and credential
patterns in the files git tracks (or would track: untracked, not ignored)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from opskit.core import repofiles
from opskit.secrets import sops

if TYPE_CHECKING:
    from opskit.core.config import Config

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


def check(cfg: Config) -> list[str]:
    """Findings, one line each: plaintext Secrets, recipient drift, undecryptable files,
    credential patterns in the files git tracks (or would track: untracked, not ignored)."""
    files = _candidate_files(cfg)
    findings = []
    mine = sops.my_recipients()
    for rel in files:
        text = _read_text(cfg.root / rel)
        if text is None:
            continue
        findings += _scan_text(rel, text)
        if rel.endswith((".yaml", ".yml")):
            findings += _check_yaml(cfg, rel, text, mine)
    return findings


def _candidate_files(cfg: Config) -> list[str]:
    return [str(path.relative_to(cfg.root)) for path in repofiles.tracked_files(cfg.root)]


def _read_text(path: Path) -> str | None:
    if path.is_symlink() or not path.is_file() or path.stat().st_size > 2_000_000:
        return None
    data = path.read_bytes()
    return None if b"\0" in data[:8192] else data.decode(errors="replace")


# --- credential patterns in any text file --------------------------------------------------


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


# --- Kubernetes YAML: Secrets, generators, encrypted files ---------------------------------


def _check_yaml(cfg: Config, rel: str, text: str, mine: tuple[str, ...]) -> list[str]:
    from opskit.core import yamlio
    from opskit.core.errors import OpsError

    try:
        docs = [d for d in yamlio.load_all(text, rel) if isinstance(d, dict)]
    except OpsError:
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


# Fields of a SOPS file that identify the object and are not secret; every other leaf
# (outside the `sops` metadata) must be ciphertext.
CLEAR_FIELDS = {"sops", "apiVersion", "kind", "metadata", "type", "immutable"}


def plaintext_fields(doc: dict) -> list[str]:
    """Dotted paths of the leaves that sops left unencrypted (values never returned)."""
    found: list[str] = []

    def walk(value, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}.{key}" if where else str(key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{where}[{index}]")
        elif not (isinstance(value, str) and value.startswith("ENC[")):
            found.append(where)

    walk({k: v for k, v in doc.items() if k not in CLEAR_FIELDS}, "")
    return found


def _check_encrypted(cfg: Config, rel: str, doc: dict, mine: tuple[str, ...]) -> list[str]:
    if clear := plaintext_fields(doc):
        shown = ", ".join(clear[:3]) + (f" and {len(clear) - 3} more" if len(clear) > 3 else "")
        return [
            f"{rel}: {shown} not encrypted (plaintext in a SOPS file); fix the manifest, "
            "re-encrypt it (`invoke secrets.encrypt --overlay <name> --force`) and change "
            "the exposed value"
        ]
    rule = sops.rule_for(cfg, rel)
    have = sops.doc_recipients(doc)
    if rule is None:
        return [
            f"{rel}: no creation rule in {sops.SOPS_CONFIG} matches this encrypted file; "
            "add one (`invoke secrets.init --overlay <name>`)"
        ]
    wanted = sops.rule_recipients(rule)
    if set(have) != set(wanted):
        return [
            f"{rel}: encrypted to {len(have)} recipient(s) but {sops.SOPS_CONFIG} lists "
            f"{len(wanted)}; sync it: `invoke secrets.rotate --overlay <name>`"
        ]
    if set(mine) & set(have):
        done = sops.run_sops(cfg, "--decrypt", rel, check=False)
        if done.returncode != 0:
            return [
                f"{rel}: does not decrypt with your key (corrupt or MAC mismatch); "
                "restore it from git history"
            ]
        sops.register_values(done.stdout)
    return []
