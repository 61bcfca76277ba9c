"""The one way the suite reads YAML and JSON: duplicate keys refused, every error one line.

PyYAML and json keep the last of two equal keys without a word, so a second `image:` or
`replicas:` would win silently; both loaders here refuse it. Error lines name the file and
line but never quote its text: the file may be a decrypted Secret.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from opskit.core.errors import OpsError

T = TypeVar("T")
FIX = "fix the file"
_REPORTED: set[Path] = set()


class _DuplicateKey(Exception):
    def __init__(self, key: Any, first: Any, again: Any) -> None:
        super().__init__(key)
        self.key, self.first, self.again = key, first, again


@functools.cache
def _loader() -> type:
    """The (C) safe loader, refusing a key given twice in one mapping (`<<` merges may)."""
    import yaml

    class StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        def construct_mapping(self, node: Any, deep: bool = False) -> dict:
            seen: dict[Any, Any] = {}
            for key_node, _value in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                with contextlib.suppress(TypeError):  # unhashable: the base loader says so
                    if key in seen:
                        raise _DuplicateKey(key, seen[key], key_node.start_mark)
                    seen[key] = key_node.start_mark
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def _parse(origin: str, parse: Callable[[], T]) -> T:
    import yaml

    try:
        return parse()
    except _DuplicateKey as dup:
        raise OpsError(
            f"{origin}: line {dup.again.line + 1}: duplicate key {dup.key!r} "
            f"(first on line {dup.first.line + 1})",
            "keep one of them (YAML keeps only the last, silently)",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f": line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise OpsError(f"{origin}{where}: invalid YAML ({problem})", FIX) from None


def load(text: str | bytes, origin: str) -> Any:
    """The one YAML document in `text`; `origin` names it in errors (a path, `stdin`)."""
    import yaml

    return _parse(origin, lambda: yaml.load(text, Loader=_loader()))


def load_all(text: str | bytes, origin: str) -> list[Any]:
    """Every non-empty document of a YAML stream."""
    import yaml

    def documents() -> list[Any]:
        return [d for d in yaml.load_all(text, Loader=_loader()) if d is not None]

    return _parse(origin, documents)


def read_text(path: Path) -> str:
    """A file's text, or one line naming it (missing, a folder, unreadable, not UTF-8)."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise OpsError(f"{path}: not UTF-8 text", FIX) from None
    except OSError as exc:
        raise OpsError(f"{path}: cannot read it ({exc.strerror})", FIX) from None


def load_file(path: Path) -> Any:
    return load(read_text(path), str(path))


def load_file_all(path: Path) -> list[Any]:
    return load_all(read_text(path), str(path))


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    data: dict = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"duplicate key {key!r}")
        data[key] = value
    return data


def loads_json(text: str, origin: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicates)
    except json.JSONDecodeError as exc:
        raise OpsError(f"{origin}: line {exc.lineno}: invalid JSON ({exc.msg})", FIX) from None
    except ValueError as exc:
        raise OpsError(f"{origin}: {exc}", "keep one of them") from None


def load_json_file(path: Path) -> Any:
    return loads_json(read_text(path), str(path))


def read_cache(path: Path, parse: Callable[[str], T]) -> T | None:
    """A cache's content, or None when absent; a broken one is ignored (and rebuilt) with a
    line, since a cache only saves time. `parse` raises ValueError or OpsError on bad data."""
    if not path.exists():
        return None
    try:
        return parse(read_text(path))
    except (OpsError, ValueError, TypeError, AttributeError):
        if path not in _REPORTED:  # once per process, however often it is read
            _REPORTED.add(path)
            print(f"opskit: ignoring the unreadable cache {path} (it is rebuilt)", file=sys.stderr)
        return None


def read_json_cache(path: Path) -> dict:
    """A JSON cache's mapping; {} when absent, broken (with a line) or not a mapping."""
    data = read_cache(path, lambda text: loads_json(text, str(path)))
    return data if isinstance(data, dict) else {}


def load_roundtrip(path: Path) -> tuple[Any, Any]:
    """(ruamel YAML, data) of a file to edit in place: comments, order and quotes kept;
    duplicate keys refused like everywhere else (ruamel's default)."""
    from ruamel.yaml import YAML

    yaml_rt = YAML()
    yaml_rt.preserve_quotes = True
    yaml_rt.indent(mapping=2, sequence=4, offset=2)
    text = read_text(path)
    with _roundtrip_errors(path):
        return yaml_rt, yaml_rt.load(text)


@contextlib.contextmanager
def _roundtrip_errors(path: Path) -> Iterator[None]:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        yield
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f": line {mark.line + 1}" if mark else ""
        raise OpsError(f"{path}{where}: invalid YAML ({exc.problem})", FIX) from None
    except YAMLError as exc:
        raise OpsError(f"{path}: invalid YAML ({type(exc).__name__})", FIX) from None
