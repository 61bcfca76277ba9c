"""Flag and config values, parsed and range-checked before any work starts.

Every parser takes the raw value and the name people typed (`--timeout`, `app.port`) and
returns the parsed value or raises OpsError: one line naming the flag and what it allows.
invoke converts flags whose default is a number with a bare int() (a traceback on `abc`),
so numeric task flags have string or None defaults and are parsed here instead.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from opskit.core.errors import OpsError

MAX_SECONDS = 24 * 3600.0
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(rf"{DNS_LABEL.pattern}(\.{DNS_LABEL.pattern})*")
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")  # the OCI tag grammar


@dataclass(frozen=True)
class Bounds:
    """Allowed range of a number; `above` excludes the minimum itself."""

    minimum: float | None = None
    maximum: float | None = None
    above: bool = False

    def holds(self, value: float) -> bool:
        if self.minimum is not None and (
            value <= self.minimum if self.above else value < self.minimum
        ):
            return False
        return self.maximum is None or value <= self.maximum

    def describe(self, what: str) -> str:
        if self.minimum is not None and self.maximum is not None and not self.above:
            return f"{what} from {self.minimum:g} to {self.maximum:g}"
        parts = []
        if self.minimum is not None:
            parts.append(f"{'above' if self.above else 'of at least'} {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"at most {self.maximum:g}")
        return f"{what} {' and '.join(parts)}".rstrip()


def _bad(name: str, value: Any, allowed: str) -> OpsError:
    return OpsError(f"{name}: {str(value)!r} is not allowed", f"use {allowed}")


def integer(value: Any, name: str, bounds: Bounds = Bounds()) -> int:
    """A whole number within `bounds` (from a flag string or a YAML integer)."""
    allowed = bounds.describe("an integer")
    if isinstance(value, bool):
        raise _bad(name, value, allowed)
    try:
        number = value if isinstance(value, int) else int(str(value).strip(), 10)
    except ValueError:
        raise _bad(name, value, allowed) from None
    if not bounds.holds(number):
        raise _bad(name, value, allowed)
    return number


def decimal(value: Any, name: str, bounds: Bounds = Bounds(), what: str = "a number") -> float:
    """A finite number within `bounds`."""
    allowed = bounds.describe(what)
    if isinstance(value, bool):
        raise _bad(name, value, allowed)
    try:
        number = float(value if isinstance(value, int | float) else str(value).strip())
    except ValueError:
        raise _bad(name, value, allowed) from None
    if not math.isfinite(number) or not bounds.holds(number):
        raise _bad(name, value, allowed)
    return number


def seconds(value: Any, name: str) -> float:
    """A duration in seconds: above 0, at most a day (a negative timeout waits for nothing)."""
    return decimal(value, name, Bounds(0, MAX_SECONDS, above=True), "seconds, a number")


DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(value: Any, name: str, longest: float = 30 * 86400.0) -> float:
    """A duration such as `90`, `90s`, `15m`, `2h`, `1d`, in seconds: 0 up to `longest`."""
    allowed = f"a duration such as 90s, 15m, 2h or 1d (at most {longest / 86400:g}d)"
    match = DURATION.fullmatch(str(value).strip())
    if isinstance(value, bool) or not match:
        raise _bad(name, value, allowed)
    number = float(match.group(1)) * UNITS[match.group(2)]
    if number > longest:
        raise _bad(name, value, allowed)
    return number


def positive_int(value: Any, name: str) -> int:
    return integer(value, name, Bounds(1))


def port(value: Any, name: str) -> int:
    """A TCP port a service listens on: 1..65535."""
    return integer(value, name, Bounds(1, 65535))


def port_or_free(value: Any, name: str) -> int:
    """A TCP port, or 0 for "pick a free one"."""
    return integer(value, name, Bounds(0, 65535))


def revision(value: Any, name: str) -> int | None:
    """A rollout revision number (1 and up); None (flag not given) means "the previous one"."""
    if value is None:
        return None
    return integer(value, name, Bounds(1))


def bounded(minimum: float | None = None, maximum: float | None = None):
    """An integer parser for the range [minimum, maximum], for config fields."""

    def parse(value: Any, name: str) -> int:
        return integer(value, name, Bounds(minimum, maximum))

    return parse


def k8s_name(value: Any, name: str, what: str = "name") -> str:
    """A Kubernetes object name (DNS subdomain): also safe as a file name (no `/`, no `..`)."""
    return _dns(value, name, what, DNS_SUBDOMAIN, 253, "'-' and '.'")


def dns_label(value: Any, name: str, what: str = "name") -> str:
    """A namespace name (DNS label): lowercase letters, digits, '-'."""
    return _dns(value, name, what, DNS_LABEL, 63, "'-'")


def cluster_name(value: Any, name: str) -> str:
    """A local cluster's name: a DNS label short enough for every provider's prefixes."""
    return _dns(value, name, "cluster name", DNS_LABEL, 40, "'-'")


def _dns(value: Any, name: str, what: str, pattern: re.Pattern, longest: int, extra: str) -> str:
    """`name` labels the error (a flag, a config key; empty: the value speaks for itself)."""
    text = "" if value is None else str(value)
    if len(text) > longest or not pattern.fullmatch(text):
        raise OpsError(
            f"{name + ': ' if name else ''}{text[:60]!r} is not a valid {what}",
            f"use at most {longest} lowercase letters, digits and {extra}, starting and "
            "ending with a letter or digit",
        )
    return text


def choice(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _bad(name, value, f"one of: {', '.join(allowed)}")
    return value


def workload(value: Any, name: str, kinds: tuple[str, ...]) -> str:
    """`kind/name` of a workload, e.g. deployment/api (kind in lowercase)."""
    kind, _, rest = str(value).partition("/")
    if kind not in kinds or not rest:
        raise OpsError(
            f"{name}: {str(value)!r} is not a workload",
            f"write kind/name with kind one of: {', '.join(kinds)} (e.g. {kinds[0]}/api)",
        )
    k8s_name(rest, name)
    return f"{kind}/{rest}"


def image_tag(value: Any, name: str) -> str | None:
    """An immutable OCI image tag (not `latest`); None when the flag is not given."""
    if value is None:
        return None
    if not TAG_PATTERN.match(str(value)) or value == "latest":
        raise OpsError(
            f"{name}: {str(value)!r} is not an image tag",
            "use an immutable tag such as the 12-character commit sha",
        )
    return str(value)


def words(value: Any, name: str) -> tuple[str, ...]:
    """A command line split as a POSIX shell would (quotes must balance)."""
    import shlex

    try:
        return tuple(shlex.split(str(value)))
    except ValueError as exc:
        raise OpsError(f"{name}: {str(value)!r}: {exc}", "balance the quotes") from None
