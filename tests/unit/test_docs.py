"""The README stays a front page and docs/ the manual: every task has a row in docs/tasks.md,
every page is in the site's navigation, and every relative link points to a file."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import tasks

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def documented_tasks(text: str) -> set[str]:
    """Task names of the table rows: `invoke cluster.up/down/status ...` names three."""
    names: set[str] = set()
    for first in re.findall(r"^\| `invoke ([a-z][\w./-]*)", text, flags=re.M):
        head, _, rest = first.partition(".")
        if not rest:
            names.add(head)
            continue
        names.update(f"{head}.{leaf}" for leaf in rest.split("/"))
    return names


def test_every_task_has_a_row_in_the_tasks_page():
    listed = documented_tasks((DOCS / "tasks.md").read_text())
    assert sorted(set(tasks.ns.task_names) - listed) == []
    assert sorted(listed - set(tasks.ns.task_names)) == []


def test_the_row_parser_expands_slashes():
    rows = "| `invoke cluster.up/down [--x]` | a |\n| `invoke deploy --overlay=dev` | b |\n"
    assert documented_tasks(rows) == {"cluster.up", "cluster.down", "deploy"}


def test_every_page_is_in_the_navigation():
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    pages = {page for entry in nav for page in entry.values()}
    assert pages == {p.name for p in DOCS.glob("*.md")}


def test_relative_links_point_to_files():
    broken = [
        f"{doc.relative_to(ROOT)}: {target}"
        for doc in [ROOT / "README.md", *DOCS.glob("*.md")]
        for target in LINK.findall(doc.read_text())
        if "://" not in target and not (doc.parent / target).exists()
    ]
    assert broken == []


def test_the_readme_is_a_front_page():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 120
    assert "## Quickstart" in text and "./bootstrap.sh test" in text
