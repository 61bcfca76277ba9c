"""Compare one Secret's SOPS files at two commits by key, never by value.

The files are decrypted in memory (opskit.secrets.sops.decrypt, so every value is registered for
redaction) only when their bytes differ; the result names keys and says `added`, `removed`,
`changed`, or that only the ciphertext changed. Without a key that opens both files, keys
still show (sops encrypts values, not keys) and a changed ciphertext reads as such.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.core import tools, yamlio
from opskit.secrets import sops

if TYPE_CHECKING:
    from opskit.core.config import Config, Overlay

VALUE_FIELDS = ("data", "stringData")
REENCRYPTED = "re-encrypted, value unchanged"


@dataclass(frozen=True)
class SecretFile:
    path: Path
    cfg: Config  # the Config of the side the file belongs to
    overlay: Overlay


@dataclass(frozen=True)
class Verdict:
    status: str  # "" (same), "changed", REENCRYPTED
    keys: tuple[str, ...]  # `data.KEY: changed` lines
    rest: tuple[dict, dict]  # the Secret without its values, both sides (for a field diff)


def without_values(doc: dict) -> dict:
    """A Secret manifest with its values and the sops block taken out."""
    return {k: v for k, v in doc.items() if k not in (*VALUE_FIELDS, "sops")}


def key_lines(doc: dict, status: str) -> list[str]:
    """`data.KEY: <status>` for every key of a Secret (an added or removed one)."""
    return [f"{f}.{k}: {status}" for f in VALUE_FIELDS for k in sorted(doc.get(f) or {})]


def _values(doc: dict) -> dict[str, tuple[str, str]]:
    """key -> (field, digest of the value as the Secret stores it); values never kept."""
    out = {}
    for name in VALUE_FIELDS:
        for key, value in (doc.get(name) or {}).items():
            raw = str(value).encode()
            if name == "data":
                with contextlib.suppress(binascii.Error):  # not base64: compare as written
                    raw = base64.b64decode(raw, validate=True)
            out[key] = (name, hashlib.sha256(raw).hexdigest())
    return out


def _ciphertexts(doc: dict) -> dict[str, tuple[str, str]]:
    return {
        key: (name, str(value))
        for name in VALUE_FIELDS
        for key, value in (doc.get(name) or {}).items()
    }


def _compare_keys(old: dict[str, tuple[str, str]], new: dict[str, tuple[str, str]], word: str):
    lines = []
    for key in sorted(old.keys() | new.keys()):
        field = (new.get(key) or old[key])[0]
        if key not in old:
            lines.append(f"{field}.{key}: added")
        elif key not in new:
            lines.append(f"{field}.{key}: removed")
        elif old[key][1] != new[key][1]:
            lines.append(f"{field}.{key}: {word}")
    return lines


def _undecrypted(old_enc: dict, new_enc: dict, rest: tuple[dict, dict], why: str) -> Verdict:
    """Keys only, from the ciphertexts: a changed ciphertext may or may not be a new value."""
    word = f"ciphertext changed (not decrypted: {why})"
    keys = _compare_keys(_ciphertexts(old_enc), _ciphertexts(new_enc), word)
    return Verdict("changed" if keys or rest[0] != rest[1] else "", tuple(keys), rest)


def _decrypt(file: SecretFile, mine: tuple[str, ...]) -> dict:
    text = sops.decrypt(file.cfg, file.overlay, file.path, mine)
    return yamlio.load(text, sops.repo_rel(file.cfg, file.path)) or {}


def compare(old: SecretFile, new: SecretFile, recipients: Callable[[], tuple[str, ...]]) -> Verdict:
    """How a Secret changed between two files of it (`recipients()`: the user's age keys)."""
    if old.path.read_bytes() == new.path.read_bytes():
        return Verdict("", (), ({}, {}))
    old_enc, new_enc = sops.load_doc(old.path), sops.load_doc(new.path)
    rest = (without_values(old_enc), without_values(new_enc))
    if not tools.which("sops"):
        return _undecrypted(old_enc, new_enc, rest, "sops is not installed")
    mine = recipients()
    if not (sops.opens(old.path, mine) and sops.opens(new.path, mine)):
        return _undecrypted(old_enc, new_enc, rest, "none of your age keys opens it")
    plain_old, plain_new = _decrypt(old, mine), _decrypt(new, mine)
    keys = _compare_keys(_values(plain_old), _values(plain_new), "changed")
    if keys or rest[0] != rest[1]:
        return Verdict("changed", tuple(keys), rest)
    return Verdict(REENCRYPTED, (), rest)
