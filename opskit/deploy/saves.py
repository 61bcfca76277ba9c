"""Saves in the working tree as debounced batches of paths, for `invoke dev` (watchfiles).

Folders are watched recursively and top-level files through their folder (not recursive):
an editor that saves by renaming a new file over the old one replaces the inode a file
watch would follow. Editor temp files and `.git` never count; a burst of saves (a
formatter, `git checkout`) arrives as one batch once the tree has been quiet for `quiet`.
"""

from __future__ import annotations

import fnmatch
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

IGNORED = ("*.swp", "*.swo", "*.swx", "*~", ".#*", "#*#", "4913", "*.tmp", "___jb_*___")
IGNORED_DIRS = (".git", "__pycache__", ".elixir_ls")
QUIET = 0.05  # seconds without a new event that end a batch (an editor writes a save in ms)
LONGEST = 2.0  # a batch is handed over after this long even while saves keep coming
POLL = 0.2  # how often a wait for the first event looks up (so Ctrl-C is prompt)


def ignored(rel: str) -> bool:
    """An editor's swap, backup or lock file, vim's write test `4913`, or anything in .git."""
    parts = PurePosixPath(rel).parts
    if any(part in IGNORED_DIRS for part in parts[:-1]):
        return True
    return any(fnmatch.fnmatchcase(parts[-1], pattern) for pattern in IGNORED) if parts else True


def batches(
    events: queue.Queue[str], quiet: float = QUIET, longest: float = LONGEST
) -> Iterator[set[str]]:
    """Paths from `events`, grouped: a batch starts at the first event and ends when none
    came for `quiet` seconds (or after `longest`)."""
    while True:
        batch = {_first(events)}
        started = last = time.monotonic()
        while (now := time.monotonic()) - started < longest:
            wait = min(quiet - (now - last), longest - (now - started))
            try:
                batch.add(events.get(timeout=max(0.0, wait)))
                last = time.monotonic()
            except queue.Empty:
                if time.monotonic() - last >= quiet:
                    break
        yield batch


def _first(events: queue.Queue[str]) -> str:
    while True:
        try:
            return events.get(timeout=POLL)
        except queue.Empty:
            continue


class Watcher:
    """Watch `folders` (recursively) and `files` (top level of `root`) on threads; the
    relative paths of what changed go to `events`, ignored ones left out."""

    def __init__(self, root: Path, folders: tuple[str, ...], files: tuple[str, ...]) -> None:
        self.root = root
        self.events: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._threads = [
            self._thread([root / f for f in folders if (root / f).is_dir()], True, ignored),
            self._thread([root], False, lambda rel: rel not in files),
        ]

    def _thread(self, paths: list[Path], recursive: bool, skip) -> threading.Thread:
        import watchfiles

        def keep(_change, path: str) -> bool:
            return not skip(self.relative(path))

        def run() -> None:
            for changes in watchfiles.watch(
                *paths,
                watch_filter=keep,
                recursive=recursive,
                step=20,
                stop_event=self._stop,
                rust_timeout=500,
                raise_interrupt=False,
            ):
                for _change, path in sorted(changes):
                    self.events.put(self.relative(path))

        thread = threading.Thread(target=run, name="opskit-watch", daemon=True)
        if paths:
            thread.start()
        return thread

    def relative(self, path: str) -> str:
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return path

    def batches(self, quiet: float = QUIET) -> Iterator[set[str]]:
        return batches(self.events, quiet)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=2)

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
