"""The clean room's run: every job in its CI's order, its setup actions, then its lines;
after each job, what it must have left behind (asserted argv, the released main)."""

from __future__ import annotations

import re
import shlex
import sys
import time
from pathlib import Path

from cleanroom import runners, shims
from cleanroom.room import FINAL, Outcome, Room
from opskit.core import gitinfo, paths, shell
from opskit.core.errors import OpsError
from opskit.lint import cimodel
from opskit.lint.cimodel import condition, evaluate

PREFIX = "cleanroom"
MISSING = (  # (output pattern, the missing thing as the failure line names it)
    (re.compile(r"([\w.+-]+): (?:command )?not found"), "`{0}`"),
    (re.compile(r"`([\w.+-]+)` not found"), "`{0}`"),
    (re.compile(r"error: ([A-Z_]+) is not set"), "the variable {0}"),
    (re.compile(r"(Author identity unknown)"), "a git identity"),
    (re.compile(r"Python interpreter ([\d.]+) not found"), "Python {0}"),
    (re.compile(r"the image's Go ([\d.]+) cannot run here"), "the Go of .go-version (not {0})"),
)


def say(text: str) -> None:
    print(f"{PREFIX}: {text}", file=sys.stderr, flush=True)


def setup_action(room: Room, step: cimodel.Step, context: dict[str, str]) -> str:
    """Do what a `uses:` step does on the runner; a problem line, or "" when it worked."""
    inputs = {k: evaluate(v, context) for k, v in step.with_.items()}
    action = ACTIONS.get(step.uses)
    if action is None:
        return f"{step.uses}: the clean room does not know this action"
    return action(room, inputs) or ""


def _checkout(room: Room, inputs: dict[str, str]) -> str:
    if inputs.get("ref"):
        shell.run(["git", "-C", str(room.work), "checkout", "-q", "--detach", inputs["ref"]])
    return ""


def _setup_python(room: Room, inputs: dict[str, str]) -> str:
    version = inputs.get("python-version", "")
    if not runners.provide_python(room.python_bin, version):
        return f"setup-python {version}: no such Python on this machine"
    if inputs.get("cache") == "pip":
        room.env |= cleanroom_pip_cache()
    return ""


def _setup_go(room: Room, inputs: dict[str, str]) -> str:
    spec = inputs.get("go-version") or go_version_file(room.work / inputs["go-version-file"])
    if not runners.provide_go(room.tools, spec):
        return f"setup-go {spec}: this machine's Go does not match it"
    return ""


def _cache(room: Room, inputs: dict[str, str]) -> str:
    restore_cache(room, inputs.get("path", ""))
    return ""


def _docker_login(room: Room, inputs: dict[str, str]) -> str:
    if not (inputs.get("registry") and inputs.get("password")):
        return "docker/login-action without registry or password (map it from a secret)"
    with (room.dir / "logins").open("a") as logins:
        logins.write(inputs["registry"] + "\n")
    return ""


ACTIONS = {
    "actions/checkout": _checkout,
    "actions/setup-python": _setup_python,
    "actions/setup-go": _setup_go,
    "actions/cache": _cache,
    "docker/login-action": _docker_login,
    "actions/upload-artifact": lambda room, inputs: "",  # uploads are CI-side only
}


def cleanroom_pip_cache() -> dict[str, str]:
    from cleanroom.room import _pip_cache

    return _pip_cache()


def go_version_file(path: Path) -> str:
    """setup-go's reading: .go-version as written; go.mod's toolchain, else its go line."""
    text = path.read_text()
    if path.name != "go.mod":
        return text.strip()
    lines = dict(line.split(None, 1) for line in text.splitlines() if line[:3] in ("go ", "too"))
    return lines.get("toolchain", "").removeprefix("go").strip() or lines.get("go", "").strip()


def restore_cache(room: Room, paths_text: str) -> None:
    """actions/cache with a hit: this machine's Go caches and the built tools."""
    wanted = {p.strip() for p in paths_text.splitlines() if p.strip()}
    if "~/go/pkg/mod" in wanted:
        room.env["GOMODCACHE"] = str(Path.home() / "go" / "pkg" / "mod")
    if "~/.cache/go-build" in wanted:
        room.env["GOCACHE"] = str(Path.home() / ".cache" / "go-build")
    if ".tools" in wanted:
        room._restore_tools()


def run_job(room: Room, commit: str) -> Outcome:
    job, started = room.job, time.monotonic()
    outcome = Outcome(job, work=room.work)
    try:
        room.prepare(commit)
        context = room.context() if job.system == "github" else {}
        failed = False
        for step in job.steps:
            if job.system == "github" and not condition(step.if_, context, failed):
                continue
            if failed:
                break
            if step.uses:
                problem = setup_action(room, step, context)
                what = step.uses
            else:
                code, output = room.run_line(evaluate(step.run, context), step.env)
                problem = "" if code == 0 else describe(room, step.run, code, output)
                what = step.run
                outcome.ran += [step.run] if code == 0 else []
            if problem:
                failed, outcome.ok = True, False
                outcome.problem = problem if problem.startswith(job.title) else f"{what}: {problem}"
        outcome.record = shims.recorded(room.record)
        if outcome.ok:
            outcome.problem = check_job(room, outcome)
            outcome.ok = not outcome.problem
    except OpsError as exc:
        outcome.ok, outcome.problem = False, str(exc)
    finally:
        room.save_venv()
    outcome.seconds = time.monotonic() - started
    if not outcome.ok and not outcome.problem.startswith(job.title):
        outcome.problem = f"{job.title}: {outcome.problem}"
    return outcome


def describe(room: Room, line: str, code: int, output: str) -> str:
    job = room.job
    if thing := missing_thing(output):
        return (
            f"{job.title}: `{line}` needs {thing}, which neither its image ({job.image}) "
            "nor its setup steps provide"
        )
    tail = [ln for ln in output.strip().splitlines() if ln.strip()][-1:] or [f"exit {code}"]
    return f"{job.title}: `{line}` failed (exit {code}): {tail[0]}"


def missing_thing(output: str) -> str:
    """What the failed step lacked, read from its output (the last match wins)."""
    found = ""
    for pattern, template in MISSING:
        for match in pattern.finditer(output):
            found = template.format(*match.groups())
    return found


def check_job(room: Room, outcome: Outcome) -> str:
    """The asserted stage calls were reached, in order; a release left main green."""
    from opskit.lint import ci

    expected = []
    for line in outcome.ran:
        script = room.work / line.split()[0]
        if script.is_file() and line.startswith("ci/"):
            call = ci.stage_call(script)
            if FINAL.get(call.target) == "asserted":
                expected.append(f"cleanroom-asserted {' '.join(call.argv)}")
    got = [r for r in outcome.record if r.startswith("cleanroom-asserted")]
    if got != expected:
        return f"asserted calls {got} differ from the stage calls {expected}"
    if "ci/release.sh" in outcome.ran:
        from cleanroom.release import check_release

        return check_release(room, outcome)
    return ""


def ordered_jobs(root: Path) -> list[cimodel.Job]:
    """GitHub's jobs (needs first, release.yml last), then Bitbucket's main pipeline."""
    github = cimodel.github_jobs(root)
    done: list[cimodel.Job] = []
    while len(done) < len(github):
        ready = [j for j in github if j not in done and set(j.needs) <= {d.name for d in done}]
        ready.sort(key=lambda j: "workflow_run" in j.on)  # runs after the CI it waits for
        done.append(ready[0])
    bitbucket = {job.name: job for job in cimodel.bitbucket_jobs(root)}
    order = [n for stage in cimodel.bitbucket_pipelines(root)["branches.main"] for n in stage]
    order += [n for n in bitbucket if n not in order]
    return done + [bitbucket[n] for n in dict.fromkeys(order)]


def blocked(job: cimodel.Job, outcomes: list[Outcome], root: Path) -> str:
    """Why the CI would not start this job now ("" = it starts)."""
    failed = {o.job.name for o in outcomes if not o.ok and o.job.system == job.system}
    if job.system == "github":
        if "workflow_run" in job.on:
            ci_jobs = [o for o in outcomes if o.job.source == ".github/workflows/ci.yml"]
            return (
                "CI did not succeed on this commit"
                if failed & {o.job.name for o in ci_jobs}
                else ""
            )
        return f"needs {sorted(failed & set(job.needs))} failed" if failed & set(job.needs) else ""
    stages = cimodel.bitbucket_pipelines(root)["branches.main"]
    before = [n for stage in stages for n in stage][: _position(stages, job.name)]
    return (
        f"an earlier stage failed ({sorted(failed & set(before))})" if failed & set(before) else ""
    )


def _position(stages: list[list[str]], name: str) -> int:
    count = 0
    for stage in stages:
        if name in stage:
            return count
        count += len(stage)
    return count


def main(args: list[str]) -> int:
    root = paths.root()
    base = root / ".opskit" / "cleanroom"
    commit = gitinfo.head(root)
    if gitinfo.dirty_paths(root):
        say("note: the clean room runs the commit HEAD; uncommitted changes are not in it")
    remote = base / "remote.git"
    if not remote.is_dir():
        shell.run(["git", "init", "-q", "--bare", str(remote)])
    jobs = [j for j in ordered_jobs(root) if not args or any(a in j.title for a in args)]
    outcomes: list[Outcome] = []
    started = time.monotonic()
    for job in jobs:
        if why := blocked(job, outcomes, root):
            say(f"skip {job.title}: {why}")
            continue
        shell.run(
            ["git", "-C", str(root), "push", "-q", "-f", str(remote), f"{commit}:refs/heads/main"]
        )
        say(f"run  {job.title} on {job.image} ...")
        outcome = run_job(Room(root, remote, job), commit)
        keep_log(base, outcome)
        outcomes.append(outcome)
        report(outcome)
    bad = [o for o in outcomes if not o.ok]
    seconds = time.monotonic() - started
    say(f"{len(outcomes) - len(bad)}/{len(outcomes)} jobs passed in {seconds:.0f}s")
    for outcome in bad:
        print(f"{PREFIX}: error: {outcome.problem}", file=sys.stderr)
    return 1 if bad or len(outcomes) < len(jobs) else 0


def keep_log(base: Path, outcome: Outcome) -> None:
    log = base / "room" / "output.log"
    if log.is_file():
        folder = base / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{outcome.job.system}-{outcome.job.name}".replace("/", "_").replace(" ", "_")
        log.replace(folder / f"{name}.log")


def report(outcome: Outcome) -> None:
    status = "ok  " if outcome.ok else "FAIL"
    say(f"{status} {outcome.job.title} ({outcome.seconds:.0f}s)")
    for line in outcome.ran:
        say(f"       ran for real: {line}{_final_note(outcome, line)}")
    for line in outcome.record:
        say(f"       asserted:     {shlex.split(line)[0]} {line.split(' ', 1)[-1]}")


def _final_note(outcome: Outcome, line: str) -> str:
    """How FINAL changed the stage call of a ci/ script line ("" when it ran as written)."""
    from opskit.lint import ci

    script = outcome.work / line.split(maxsplit=1)[0] if outcome.work else None
    if not (script and line.startswith("ci/") and script.is_file()):
        return ""
    call = ci.stage_call(script)
    mode = FINAL.get(call.target)
    return f" (its `{call}`: {mode})" if mode else ""
