"""What `invoke dev` counts as a save: the ignore rules, the debounce, and the real watcher."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time

import pytest

from opskit.deploy import saves


@pytest.mark.parametrize(
    "rel",
    [
        "k8s/base/.api-configmap.yaml.swp",
        "k8s/base/.api-configmap.yaml.swx",
        "k8s/base/api-configmap.yaml~",
        "k8s/base/.#api-configmap.yaml",
        "k8s/base/#api-configmap.yaml#",
        "k8s/base/4913",
        "app/.git/index",
        "k8s/.git/HEAD",
        "app/lib/__pycache__/x.pyc",
    ],
)
def test_editor_temp_files_and_git_are_ignored(rel):
    assert saves.ignored(rel)


@pytest.mark.parametrize(
    "rel",
    ["k8s/base/api-configmap.yaml", "app/lib/api.ex", "k8s/overlays/dev/secrets/x.sops.yaml"],
)
def test_sources_count(rel):
    assert not saves.ignored(rel)


def _feed(events: queue.Queue, items: list[tuple[float, str]]) -> threading.Thread:
    def run() -> None:
        for delay, path in items:
            time.sleep(delay)
            events.put(path)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_burst_of_saves_is_one_batch_and_a_pause_starts_the_next():
    events: queue.Queue[str] = queue.Queue()
    _feed(events, [(0, "a"), (0.02, "b"), (0.02, "a"), (0.3, "c")])
    batches = saves.batches(events, quiet=0.1, longest=2)
    assert next(batches) == {"a", "b"}
    started = time.monotonic()
    assert next(batches) == {"c"}
    assert time.monotonic() - started < 1


def test_saves_that_never_pause_are_handed_over_after_the_longest_wait():
    events: queue.Queue[str] = queue.Queue()
    _feed(events, [(0.03, f"f{i}") for i in range(40)])  # 1.2 s of saves, 30 ms apart
    started = time.monotonic()
    first = next(saves.batches(events, quiet=0.1, longest=0.3))
    assert 0.25 < time.monotonic() - started < 0.8
    assert 3 <= len(first) < 40


def _drain(watcher: saves.Watcher, settle: float = 0.6) -> set[str]:
    seen: set[str] = set()
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            seen.add(watcher.events.get(timeout=0.05))
    return seen


def _replace(path, text: str) -> None:
    """Save as vim and most editors do: write a new file, rename it over the old one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_watcher_reports_sources_relative_and_follows_renamed_top_level_files(tmp_path):
    (tmp_path / "k8s" / "base").mkdir(parents=True)
    (tmp_path / "app").mkdir()
    (tmp_path / "opskit.yaml").write_text("a: 1\n")
    with saves.Watcher(tmp_path, ("k8s", "app"), ("opskit.yaml",)) as watcher:
        time.sleep(0.3)  # the watch threads are registered
        (tmp_path / "k8s" / "base" / "cm.yaml").write_text("x\n")
        (tmp_path / "k8s" / "base" / ".cm.yaml.swp").write_text("swap\n")
        (tmp_path / "k8s" / "base" / "4913").write_text("")
        (tmp_path / "README.md").write_text("not watched\n")
        _replace(tmp_path / "opskit.yaml", "a: 2\n")
        assert _drain(watcher) == {"k8s/base/cm.yaml", "opskit.yaml"}
        _replace(tmp_path / "opskit.yaml", "a: 3\n")  # the second save: a new inode
        (tmp_path / "app" / "api.ex").write_text("defmodule Api do end\n")
        assert _drain(watcher) == {"opskit.yaml", "app/api.ex"}
