"""A state folder that cannot be written (full, read-only, not a folder, no permission) is
one line naming the path and saying what to do, from every writer: never a traceback."""

import contextlib
import errno
import os
import subprocess
from pathlib import Path

import pytest

from opskit.core import lock, paths, toolcheck
from opskit.core.errors import OpsError


@contextlib.contextmanager
def _tmpfs(folder: Path, options: str):
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        check=False,
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip("needs permission to mount a tmpfs (root) to make a real full disk")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def _fill(folder: Path) -> None:
    """No byte and no inode left (both are ENOSPC)."""
    with contextlib.suppress(OSError), (folder / "filler").open("wb") as handle:
        while True:
            handle.write(b"\0" * 4096)
            handle.flush()
    with contextlib.suppress(OSError):
        for index in range(1000):
            (folder / f"inode-{index}").touch()


def _denied(real, folder: Path):
    def call(path, *a, **k):
        if Path(path) != folder and Path(path).is_relative_to(folder):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *a, **k)

    return call


@pytest.fixture(params=["full", "read-only", "not a folder", "permission denied"])
def broken(request, tmp_path, monkeypatch):
    """(state folder, words the error line must contain) for one kind of failure."""
    kind = request.param
    if kind == "not a folder":
        (tmp_path / "state").write_text("a file where the state folder belongs\n")
        yield tmp_path / "state", (f"{tmp_path / 'state'} is not a folder", "remove or rename")
    elif kind == "permission denied":
        (tmp_path / "state").mkdir()
        for name in ("open", "mkdir"):  # root ignores mode bits: fail at the os boundary
            monkeypatch.setattr(os, name, _denied(getattr(os, name), tmp_path / "state"))
        yield tmp_path / "state", ("Permission denied", "OPSKIT_STATE_DIR")
    elif kind == "read-only":
        with _tmpfs(tmp_path / "ro", "ro,size=64k") as mount:
            yield mount / "state", ("Read-only file system", "OPSKIT_STATE_DIR")
    else:
        with _tmpfs(tmp_path / "full", "size=64k,nr_inodes=64") as mount:
            (mount / "state" / "cache").mkdir(parents=True)
            (mount / "state" / "locks").mkdir(parents=True)
            (mount / "state" / "clusters").mkdir(parents=True)
            _fill(mount)
            yield mount / "state", ("No space left on device", "free some space")


def _write_atomic(state: Path) -> Path:
    target = state / "cache" / "tool-versions.json"
    paths.write_atomic(target, "{}" * 40000)
    return target


def _lock(state: Path) -> Path:
    target = state / "locks" / "deploy-kwok-dev.lock"
    with lock.exclusive(target, wait=0, what="a deploy"):
        pass
    return target


def _state_subfolder(state: Path) -> Path:
    target = state / "clusters" / "kwok-lab" / "volumes"
    paths.ensure_dir(target)
    return target


@pytest.mark.parametrize("write", [_write_atomic, _lock, _state_subfolder])
def test_a_broken_state_folder_is_one_line_naming_the_path(broken, monkeypatch, write):
    state, words = broken
    monkeypatch.setenv("OPSKIT_STATE_DIR", str(state))
    with pytest.raises(OpsError) as info:
        write(state)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(str(state))
    for word in words:
        assert word in text
    leftovers = [p for p in state.rglob(".*.tmp")] if state.is_dir() else []
    assert leftovers == []  # no half-written temporary file stays behind


def test_a_cache_that_cannot_be_written_only_costs_speed(broken, monkeypatch):

    state, _words = broken
    monkeypatch.setattr(toolcheck, "state_dir", lambda: state)
    assert toolcheck.probe("git").ok  # probed, not cached, no error
