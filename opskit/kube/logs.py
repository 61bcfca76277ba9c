"""What a crashed container said: the line of its last run that names the error.

A program may print more after its error: cobra prints the command's usage after it (on
stderr) while ArgoCD's commands print the error again on stdout, and the two streams reach
the container's log in either order. The last line alone is then a line of the usage."""

from __future__ import annotations

import re

from opskit.kube.kubectl import Kube

TAIL = 40  # lines read back: an error and the usage printed after it
LONGEST = 300
_ERROR = re.compile(r"\b(error|fatal|panic|failed|invalid|unknown|cannot)\b", re.IGNORECASE)


def telling_line(text: str) -> str:
    """The last line of `text` that names an error (a flag's description in a usage text
    does not count), else its last line; "" when it has none."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if _ERROR.search(line) and not line.startswith("-"):
            return line[:LONGEST]
    return lines[-1][:LONGEST] if lines else ""


def last_words(kube: Kube, namespace: str, pod: str, container: str, fallback: str) -> str:
    """What the container's previous run (else its current one) said last, the line naming
    an error first; `fallback` (its waiting message) when it said nothing."""
    for previous in (("--previous",), ()):
        result = kube.run(
            "logs", "-n", namespace, pod, "-c", container, *previous, f"--tail={TAIL}",
            check=False, timeout=30,
        )  # fmt: skip
        if result.returncode == 0 and (line := telling_line(result.stdout)):
            return line
    return fallback[:LONGEST] or "(no output)"
