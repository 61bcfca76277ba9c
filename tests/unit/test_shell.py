"""The command layer with real processes: stdin, pipelines, timeouts, errors, redaction."""

import sys
import time
from pathlib import Path

import pytest

from opskit.core import paths, shell
from opskit.core.errors import CommandFailed, ToolMissing
from tests import fakes

SECRET = "s3cr3t-sentinel-value"


def test_run_captures_stdout_and_stderr():
    result = shell.run(["sh", "-c", "echo out; echo err >&2"])
    assert (result.returncode, result.stdout, result.stderr) == (0, "out\n", "err\n")


def test_stdin_from_bytes_and_str():
    assert shell.run(["cat"], stdin=b"raw bytes").stdout == "raw bytes"
    assert shell.run(["cat"], stdin="text").stdout == "text"


def test_stdin_from_another_command_is_a_pipeline():
    upstream = shell.Step(argv=("printf", "a\nb\nc\n"))
    result = shell.run(["wc", "-l"], stdin=upstream)
    assert result.stdout.strip() == "3"


def test_three_stage_pipeline_with_memory_input():
    first = shell.Step(argv=("cat",), stdin=b"hello world\n")
    second = shell.Step(argv=("tr", "a-z", "A-Z"), stdin=first)
    assert shell.run(["rev"], stdin=second).stdout == "DLROW OLLEH\n"


def test_large_stdin_does_not_deadlock():
    data = b"x" * 5_000_000
    assert shell.run(["wc", "-c"], stdin=data).stdout.strip() == str(len(data))


def test_timeout_kills_and_raises():
    started = time.monotonic()
    with pytest.raises(CommandFailed, match=r"`sleep` timed out after 0.3s") as info:
        shell.run(["sleep", "10"], timeout=0.3)
    assert time.monotonic() - started < 3
    assert info.value.returncode is None


def test_nonzero_exit_carries_tool_argv_code_and_stderr_tail():
    script = "for i in $(seq 1 30); do echo line$i >&2; done; exit 4"
    with pytest.raises(CommandFailed) as info:
        shell.run(["sh", "-c", script], hint="try again")
    err = info.value
    assert (err.tool, err.returncode, err.argv[0]) == ("sh", 4, "sh")
    assert err.stderr_tail.splitlines() == [f"line{i}" for i in range(11, 31)]
    assert str(err).startswith("`sh` exited with code 4: sh -c")
    assert "; try again" in str(err).splitlines()[0]


def test_a_failure_says_first_what_the_command_was_for():
    """`what` (a step's purpose) leads its failure and its timeout: in a pipeline, the
    whole command's purpose, whichever step failed."""
    upstream = shell.Step(argv=("sh", "-c", "exit 3"))
    step = shell.Step(argv=("cat",), stdin=upstream, what="rotate data key")
    with pytest.raises(CommandFailed) as failed:
        shell.run_step(step)
    assert str(failed.value) == "rotate data key: `sh` exited with code 3: sh -c exit 3"
    slow = shell.Step(argv=("sleep", "5"), what="apply", timeout=0.2)
    with pytest.raises(CommandFailed) as late:
        shell.run_step(slow)
    assert late.value.message == "apply: `sleep` timed out after 0.2s: sleep 5"
    with pytest.raises(CommandFailed) as plain:
        shell.run(["sh", "-c", "exit 2"])
    assert plain.value.message == "`sh` exited with code 2: sh -c exit 2"  # no purpose given


def test_check_false_returns_the_failure():
    assert shell.run(["sh", "-c", "exit 2"], check=False).returncode == 2


def test_failure_in_the_middle_of_a_pipeline_is_reported():
    upstream = shell.Step(argv=("sh", "-c", "echo broken >&2; exit 5"))
    with pytest.raises(CommandFailed) as info:
        shell.run(["cat"], stdin=upstream)
    assert (info.value.tool, info.value.returncode, info.value.stderr_tail) == ("sh", 5, "broken")


def test_missing_executable_is_one_line_with_install_hint():
    with pytest.raises(ToolMissing) as info:
        shell.run(["no-such-tool-xyz"])
    assert "\n" not in str(info.value)
    assert (
        str(info.value)
        == "`no-such-tool-xyz` not found; install `no-such-tool-xyz` and put it on PATH"
    )


def test_missing_registered_tool_names_its_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(paths, "root", lambda: tmp_path)  # no built tools either
    with pytest.raises(ToolMissing, match=r"`minikube` not found; install it: see minikube.sigs"):
        shell.run(["minikube", "version"])


def test_missing_tool_in_pipeline_starts_nothing(tmp_path):
    marker = tmp_path / "ran"
    upstream = shell.Step(argv=("touch", str(marker)))
    with pytest.raises(ToolMissing):
        shell.run(["no-such-tool-abc"], stdin=upstream)
    assert not marker.exists()


def test_env_and_cwd(tmp_path):
    result = shell.run(["sh", "-c", 'echo "$OPSKIT_X"; pwd'], env={"OPSKIT_X": "1"}, cwd=tmp_path)
    assert result.stdout.split() == ["1", str(tmp_path)]


def test_echo_prints_redacted_command(capsys):
    shell.secret(SECRET)
    with shell.echoing(True):
        shell.run(["echo", f"--password={SECRET}"])
    err = capsys.readouterr().err
    assert err == "$ echo --password=***\n"


def test_dry_run_skips_mutating_commands_and_prints_them(tmp_path, capsys):
    target = tmp_path / "created"
    shell.secret(SECRET)
    result = shell.run(["touch", str(target), SECRET], mutates=True, dry_run=True)
    read_only = shell.run(["echo", "still runs"], dry_run=True)
    assert not target.exists()
    shell.run(["touch", str(target)], mutates=True)  # the same command without dry_run runs
    assert target.exists()
    target.unlink()
    assert result == shell.Result(0, "", "")
    assert read_only.stdout == "still runs\n"
    assert not target.exists()
    assert capsys.readouterr().err == f"[dry-run] touch {target} ***\n"


def test_dry_run_of_pipeline_shows_both_sides_and_memory_input(capsys):
    upstream = shell.Step(argv=("sops", "-d", "x.yaml"))
    step = shell.Step(argv=("kubectl", "apply", "-f", "-"), stdin=upstream, mutates=True)
    shell.run_step(step, dry_run=True)
    memory = shell.Step(argv=("kubectl", "apply", "-f", "-"), stdin=b"abc", mutates=True)
    assert capsys.readouterr().err == "[dry-run] sops -d x.yaml | kubectl apply -f -\n"
    assert memory.display() == "kubectl apply -f - < <3 bytes from memory>"


def test_secret_never_in_raised_error():
    shell.secret(SECRET)
    with pytest.raises(CommandFailed) as info:
        shell.run(["sh", "-c", f"echo leaked {SECRET} >&2; exit 1", SECRET])
    text = str(info.value) + repr(info.value.argv) + info.value.stderr_tail
    assert SECRET not in text
    assert "leaked ***" in text


def test_base64_form_of_secret_is_redacted_too():
    import base64

    shell.secret(SECRET)
    encoded = base64.b64encode(SECRET.encode()).decode()
    assert shell.redact(f"data: {encoded}") == "data: ***"


def test_short_values_are_not_registered():
    shell.secret("ab")
    assert shell.redact("ab cab") == "ab cab"


def test_recorder_fakes_only_named_tools():
    with fakes.recorder({"docker": (0, "fake-id\n", "")}) as calls:
        assert shell.run(["docker", "build", "."]).stdout == "fake-id\n"
        assert shell.run(["echo", "real"]).stdout == "real\n"
    assert calls == [("docker", "build", ".")]


def test_recorder_failure_raises_command_failed():
    with fakes.recorder({"helm": (1, "", "Error: boom")}), pytest.raises(CommandFailed) as info:
        shell.run(["helm", "install", "x"])
    assert (info.value.tool, info.value.stderr_tail) == ("helm", "Error: boom")


def test_recorder_pipeline_passes_real_output_to_fake():
    seen = []

    def fake(argv, stdin):
        seen.append(stdin)
        return (0, "applied", "")

    upstream = shell.Step(argv=("printf", "manifest"))
    with fakes.recorder({"kubectl": fake}) as calls:
        result = shell.run(["kubectl", "apply", "-f", "-"], stdin=upstream)
    assert (result.stdout, seen, calls) == (
        "applied",
        [b"manifest"],
        [("kubectl", "apply", "-f", "-")],
    )


def test_tools_bin_comes_first_on_path(tmp_path, monkeypatch):
    from opskit.core import tools

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "opskit-probe-tool"
    fake.write_text("#!/bin/sh\necho from-tools-bin\n")
    fake.chmod(0o755)
    monkeypatch.setattr(tools, "tools_bin", lambda: bin_dir)
    assert shell.run(["opskit-probe-tool"]).stdout == "from-tools-bin\n"


def test_interactive_inherits_the_terminal_and_reports_failure():
    assert shell.run(["true"], interactive=True) == shell.Result(0, "", "")
    with pytest.raises(CommandFailed, match="`false` exited with code 1"):
        shell.run(["false"], interactive=True)
    with pytest.raises(CommandFailed, match=r"timed out after 0\.2s"):
        shell.run(["sleep", "5"], interactive=True, timeout=0.2)


def test_processes_start_as_plumbum_commands(monkeypatch):
    import importlib

    plumbum_local = importlib.import_module("plumbum.machines.local")
    started = []
    real = plumbum_local.Popen

    def recording(argv, **kwargs):
        started.append(list(argv))
        return real(argv, **kwargs)

    monkeypatch.setattr(plumbum_local, "Popen", recording)
    assert shell.run(["echo", "hi"]).stdout == "hi\n"
    assert shell.run(["true"], interactive=True).returncode == 0
    assert [(Path(a[0]).name, a[1:]) for a in started] == [("echo", ["hi"]), ("true", [])]


def test_plumbum_waits_for_the_first_process(tmp_path):
    """Importing the layer (as every task does) does not import plumbum; a process does."""
    code = (
        "import sys\n"
        "from opskit.core import shell\n"
        "before = 'plumbum' in sys.modules\n"
        "shell.run(['true'])\n"
        "print(before, 'plumbum' in sys.modules)\n"
    )
    done = shell.run([sys.executable, "-c", code], cwd=tmp_path)
    assert done.stdout.split() == ["False", "True"]


def test_no_secret_reaches_the_logs_with_debug_logging_on(caplog):
    import logging

    shell.secret(SECRET)
    caplog.set_level(logging.DEBUG)  # the root logger at DEBUG, as a debugging user sets it
    caplog.set_level(logging.DEBUG, logger="plumbum.local")  # and plumbum's own, explicitly
    shell.run(["echo", f"--password={SECRET}"])
    with pytest.raises(CommandFailed):
        shell.run(["sh", "-c", "exit 3", SECRET])
    assert SECRET not in caplog.text
    assert not [r for r in caplog.records if r.name.startswith("plumbum")]


def test_environment_is_the_one_built_here_whole(monkeypatch):
    """plumbum's machine keeps a copy of os.environ from its import: a variable unset since
    must not come back in a process (SOPS_AGE_KEY removed for a key file, say)."""
    from plumbum import local

    shell.run(["true"])  # plumbum imported, its copy of the environment taken
    assert "HOME" in local.env
    monkeypatch.delenv("HOME")
    monkeypatch.setenv("OPSKIT_LATER", "set-after-import")
    out = shell.run(["sh", "-c", 'echo "${HOME-unset} $OPSKIT_LATER"']).stdout
    assert out == "unset set-after-import\n"


def test_a_hot_step_starts_without_plumbum_and_behaves_the_same(tmp_path):
    """The no-op deploy's one process (git status) does not pay for plumbum's import; its
    argv, environment, folder, stdin and errors are handled as for every step."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from opskit.core import gitinfo, shell\n"
        "out = shell.run(['sh', '-c', 'cat; echo \" $X\"; pwd'], stdin='in', env={'X': 'x'},\n"
        "                cwd=sys.argv[1], hot=True).stdout.split()\n"
        "failed = shell.run(['sh', '-c', 'exit 3'], hot=True, check=False).returncode\n"
        "gitinfo.head_and_changes(Path(sys.argv[2]))\n"
        "print(*out, failed, 'plumbum' in sys.modules)\n"
    )
    root = str(Path(__file__).resolve().parents[2])
    done = shell.run([sys.executable, "-c", code, str(tmp_path), root], cwd=tmp_path)
    assert done.stdout.split() == ["in", "x", str(tmp_path), "3", "False"]
