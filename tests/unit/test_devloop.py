"""`invoke dev` without a cluster: refusals, the status line, the test map, what counts."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sh

from opskit import clusters
from opskit.core import config, lock
from opskit.core.errors import OpsError
from opskit.deploy import devloop
from opskit.deploy.pipeline import Deployed

ROOT = Path(__file__).resolve().parents[2]
INVOKE = sh.Command(str(Path(sys.executable).parent / "invoke"))


def test_protected_overlay_is_refused_in_one_line(tmp_path):
    result = INVOKE(
        "dev",
        "--overlay=prod",
        _cwd=ROOT,
        _ok_code=[1],
        _return_cmd=True,
        _tty_out=False,
        _env={**os.environ, "OPSKIT_STATE_DIR": str(tmp_path)},
    )
    assert result.stderr.decode().splitlines() == [
        "opskit: error: `invoke dev` does not deploy to protected overlay prod (it deploys "
        "uncommitted work); commit, then `invoke deploy --overlay=prod`"
    ]
    assert not (tmp_path / "locks").exists()


@pytest.mark.tools("sops")  # the preflight checks the deploy tools before the lock
def test_a_second_loop_on_the_same_overlay_is_refused_with_the_lock_message(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSKIT_STATE_DIR", str(tmp_path))
    cfg = config.load(ROOT / "opskit.yaml")
    context = clusters.connect(cfg, "dev").context
    path = lock.deploy_lock(context, "dev")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OpsError) as caught:
            devloop.run(cfg, "dev", notify=lambda _m: None)
        assert str(caught.value) == (
            f"a dev loop or deploy of dev is already running (pid {holder.pid}, lock {path}); "
            "wait for it to finish, then run again"
        )
    finally:
        holder.kill()
        holder.wait()


HOLDER = """
import sys, time
from pathlib import Path
from opskit.core import lock
with lock.exclusive(Path(sys.argv[1]), wait=0, what="x"):
    print("held", flush=True)
    time.sleep(30)
"""


def test_status_line_says_what_changed_what_was_applied_and_how_long():
    done = Deployed(
        {},
        {"ConfigMap/api-config": "changed", "Deployment/api": "changed", "Service/a": "unchanged"},
        ("deployment/api",),
    )
    line = devloop.status_line("dev #3", ["k8s/overlays/dev/api-config.yaml"], done, 1.234, [])
    assert line == (
        "dev #3: k8s/overlays/dev/api-config.yaml -> applied: 2 changed (ConfigMap/api-config, "
        "Deployment/api), 1 unchanged; rolled out deployment/api; ready 1.23s after save"
    )


def test_status_line_of_a_no_op_and_of_many_paths():
    done = Deployed({}, {"ConfigMap/a": "unchanged", "Secret/b": "created"})
    changed = [f"k8s/f{i}.yaml" for i in range(5)]
    notes = ["image build skipped: kwok-x runs no containers"]
    line = devloop.status_line("dev #1", changed, done, 0.5, notes)
    assert line == (
        "dev #1: k8s/f0.yaml, k8s/f1.yaml, k8s/f2.yaml +2 more -> applied: 1 created "
        "(Secret/b), 1 unchanged; no rollout; image build skipped: kwok-x runs no containers; "
        "ready 0.50s after save"
    )


def test_fast_tests_follow_the_changed_area():
    assert devloop.fast_tests(["k8s/base/api-configmap.yaml"]) == [
        ("-m", "pytest", "tests/manifests", "-q", "-x", "-p", "no:cacheprovider")
    ]
    both = devloop.fast_tests(["app/lib/api.ex", "opskit.yaml"])
    assert [args[2] for args in both] == ["tests/unit/test_config.py", "lint.elixir"]
    assert devloop.fast_tests(["README.md"]) == []


def test_saved_at_is_the_newest_write(tmp_path):
    (tmp_path / "a").write_text("1")
    (tmp_path / "b").write_text("2")
    os.utime(tmp_path / "a", (1000, 1000))
    os.utime(tmp_path / "b", (2000, 2000))
    assert devloop.saved_at(tmp_path, ["a", "b", "gone"]) == 2000


def test_paths_git_ignores_do_not_count(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("app/_build/\n")
    cfg = dataclasses.replace(config.load(ROOT / "opskit.yaml"), root=tmp_path)
    loop = devloop.Loop(cfg, cfg.overlay("dev"), None, 1, False, False, print, print)
    batch = {"app/_build/dev/lib/api.beam", "app/lib/api.ex", "k8s/base/x.yaml"}
    assert loop.relevant(batch) == ["app/lib/api.ex", "k8s/base/x.yaml"]
    assert loop.relevant({"k8s/base/x.yaml"}) == ["k8s/base/x.yaml"]  # none ignored: exit 1


def test_ctrl_c_during_a_deploy_waits_for_it_to_finish():
    lines: list[str] = []
    finished = []
    with pytest.raises(KeyboardInterrupt), devloop.interrupts_deferred(lines.append):
        os.kill(os.getpid(), signal.SIGINT)
        finished.append("deploy")  # reached: the interrupt waited
    assert finished == ["deploy"]
    assert lines == ["stopping once this deploy is done (Ctrl-C again to stop now)"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_stops_at_once():
    reached = []
    with pytest.raises(KeyboardInterrupt), devloop.interrupts_deferred(lambda _m: None):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        reached.append("after")
    assert reached == []


def test_the_loop_watches_each_images_build_context_and_names_the_rebuilt_one():
    from types import SimpleNamespace

    cfg = config.load(ROOT / "opskit.yaml")
    assert devloop.watched(cfg) == ("k8s", "app", "services/telemetry")
    changed = ["services/telemetry/src/telemetry/api.py"]

    def note(real_node: bool, paths: list[str]) -> list[str]:
        cluster = SimpleNamespace(has_real_node=lambda: real_node)
        target = SimpleNamespace(runs_containers=False, context="kwok-lab", cluster=cluster)
        loop = devloop.Loop(cfg, cfg.overlay("dev"), target, 5, False, False, print, print)
        return loop._image_note(paths)

    assert note(True, changed) == ["image rebuilt and loaded (services/telemetry/ changed)"]
    assert note(True, ["k8s/base/kustomization.yaml"]) == []
    assert note(False, changed) == ["image build skipped: kwok-lab runs no containers"]
