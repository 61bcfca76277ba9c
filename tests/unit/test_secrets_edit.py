"""`secrets.edit` leaves no decrypted file behind, however the edit ends.

sops writes the decrypted Secret to a temporary file for the editor. The edit runs with
TMPDIR set to a private folder (0700, on tmpfs where there is one) that the suite removes
in every exit path: the editor killed, the terminal gone (SIGHUP to the whole process
group), Ctrl-C (SIGINT to it), a plain save.
"""

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
import yaml

from opskit.core import tools
from opskit.secrets import generate, sops
from tests.unit.conftest import needs_sops

pytestmark = needs_sops
ROOT = Path(__file__).resolve().parents[2]
INVOKE = Path(sys.executable).parent / "invoke"
SENTINEL = f"edit-sentinel-{uuid.uuid4().hex}"  # made at run time: no file holds it


@pytest.fixture
def cfg(secrets_project):
    dev = secrets_project.overlay("dev")
    generate.init(secrets_project, dev)
    manifest = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: edited\n"
        f"stringData:\n  TOKEN: {SENTINEL}\n"
    )
    generate.encrypt_manifest(secrets_project, dev, manifest)
    return secrets_project


def editor(tmp_path: Path, body: str) -> tuple[Path, Path]:
    """An $EDITOR script that records the file sops gave it, then runs `body`."""
    marker = tmp_path / "editing.txt"
    script = tmp_path / "editor.sh"
    script.write_text(
        f'#!/bin/sh\necho "$$ $PPID $1" > {marker}.part && mv {marker}.part {marker}\n'
    )
    script.write_text(script.read_text() + textwrap.dedent(body))
    script.chmod(0o755)
    return script, marker


def start_edit(cfg, script: Path) -> subprocess.Popen:
    sops_dir = Path(tools.which("sops")).parent  # the copy has no .tools of its own
    env = {
        **os.environ,
        "EDITOR": str(script),
        "OPSKIT_ROOT": str(cfg.root),
        "PATH": f"{sops_dir}{os.pathsep}{os.environ['PATH']}",
    }
    env.pop("SOPS_EDITOR", None)
    argv = [str(INVOKE), "secrets.edit", "--overlay", "dev", "--name", "edited"]
    # its own session: a signal to the group is what a closing terminal sends
    return subprocess.Popen(
        argv, cwd=ROOT, env=env, start_new_session=True, stderr=subprocess.PIPE, text=True
    )


def wait_for(marker: Path, proc: subprocess.Popen) -> tuple[int, int, Path]:
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the editor never started"
        time.sleep(0.05)
    pid, parent, path = marker.read_text().split()
    return int(pid), int(parent), Path(path)


def plaintext_anywhere(since: float, *folders: Path) -> list[Path]:
    """Files written since `since` below the temporary folders that hold the value."""
    found = []

    def recent(path: str) -> bool:
        with contextlib.suppress(OSError):
            return os.lstat(path).st_mtime >= since
        return False

    for folder in folders:
        for dirpath, dirs, names in os.walk(folder, onerror=lambda _e: None):
            # a folder untouched since the edit began holds no new entry of its own; new
            # folders (sops' own, wherever it made one) are walked whole
            dirs[:] = [d for d in dirs if recent(os.path.join(dirpath, d))]
            for name in names:
                file = Path(dirpath, name)
                with contextlib.suppress(OSError):
                    info = file.lstat()
                    if info.st_mtime < since or info.st_size > 1_000_000 or file.is_symlink():
                        continue
                    if SENTINEL.encode() in file.read_bytes():
                        found.append(file)
    return found


def private_folder(plain_file: Path) -> Path:
    """The suite's folder that holds sops' own temporary folder (on tmpfs when there is one)."""
    folder = plain_file.parent.parent
    assert folder.name.startswith("opskit-edit-"), plain_file
    if Path("/dev/shm").is_dir():
        assert folder.parent == Path("/dev/shm")
    return folder


TEMP_FOLDERS = [Path("/tmp"), Path("/dev/shm"), Path("/var/tmp")]


@pytest.mark.parametrize(
    ("how", "code"),
    [("terminal closed", 130), ("ctrl-c", 130), ("kill", 130), ("editor killed", 1)],
)
def test_no_plaintext_is_left_when_the_edit_dies(cfg, tmp_path, how, code):
    script, marker = editor(tmp_path, "sleep 60\n")
    since = time.time() - 1
    proc = start_edit(cfg, script)
    editor_pid, sops_pid, plain_file = wait_for(marker, proc)
    assert SENTINEL in plain_file.read_text()  # the test sees the file while it exists
    folder = private_folder(plain_file)
    assert folder.stat().st_mode & 0o777 == 0o700
    if how == "terminal closed":
        os.killpg(proc.pid, signal.SIGHUP)
    elif how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)
    elif how == "kill":  # SIGTERM to the task only: sops and the editor must not outlive it
        os.kill(proc.pid, signal.SIGTERM)
    else:
        os.kill(editor_pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == code, proc.stderr.read()
    with pytest.raises(ProcessLookupError):  # sops went with the task
        os.kill(sops_pid, 0)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # whatever the test started is gone
    assert not folder.exists()
    assert plaintext_anywhere(since, *TEMP_FOLDERS, tmp_path) == []


def test_a_saved_edit_is_encrypted_and_leaves_nothing(cfg, tmp_path):
    script, marker = editor(
        tmp_path, r'sed -i "s/edit-sentinel-[0-9a-f]*/changed-value-1234/" "$1"' + "\n"
    )
    since = time.time() - 1
    proc = start_edit(cfg, script)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    *_pids, plain_file = wait_for(marker, proc)
    assert not private_folder(plain_file).exists()
    dev = cfg.overlay("dev")
    decrypted = sops.decrypt(cfg, dev, sops.secret_path(dev, "edited"))
    assert yaml.safe_load(decrypted)["stringData"] == {"TOKEN": "changed-value-1234"}
    assert plaintext_anywhere(since, *TEMP_FOLDERS, tmp_path) == []
