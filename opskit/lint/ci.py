"""What the CI gate checks about CI itself: both CI systems run the same stages.

GitHub Actions and Bitbucket Pipelines hold no logic: every step runs one `ci/<stage>.sh`,
and every stage script makes exactly one nox or invoke call. This module reads both CI
files, follows each step to the call its script makes, and reports where the systems
differ, which calls name a session or task that does not exist, and schema errors.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from opskit.core import shell
from opskit.core.errors import OpsError

GITHUB_DIR = ".github/workflows"
BITBUCKET_FILE = "bitbucket-pipelines.yml"
STAGE_DIR = "ci"
STAGE_STEP = re.compile(r"(?:\./)?(ci/[A-Za-z0-9_.-]+\.sh)")
RUNNERS = ("nox", "invoke")
LISTED = {
    "nox": "session by that name; see `nox -l`",
    "invoke": "task by that name; see `invoke --list`",
}


@dataclass(frozen=True, order=True)
class Call:
    """The one nox session or invoke task a stage script runs."""

    tool: str
    target: str
    argv: tuple[str, ...]

    def __str__(self) -> str:
        return shlex.join(self.argv)


# ---- stage scripts -------------------------------------------------------------------


def stage_call(path: Path) -> Call:
    """The single nox/invoke call of a ci/ script; OpsError if it makes none or several."""
    name = f"{STAGE_DIR}/{path.name}"
    calls = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        for argv in _commands(line):
            if Path(argv[0]).name in RUNNERS:
                calls.append((number, argv))
    if len(calls) != 1:
        found = "; ".join(f"line {n}: {shlex.join(a)}" for n, a in calls) or "none"
        raise OpsError(
            f"{name} makes {len(calls)} nox/invoke calls ({found})",
            "a stage script sets up the runner, then calls exactly ONE nox session or "
            "invoke task; split it into one script per step",
        )
    return parse_call(name, calls[0][1])


def _commands(line: str) -> list[list[str]]:
    """Simple commands of one shell line, split at ; && || | and with `exec` dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token and set(token) <= set(";&|()"):
            commands.append([])
        elif token != "exec" or commands[-1]:
            commands[-1].append(token)
    return [c for c in commands if c]


def parse_call(name: str, argv: list[str]) -> Call:
    """The Call of one nox/invoke argv (`name` says where it came from, for errors)."""
    tool = Path(argv[0]).name
    args = argv[1:]
    tasks = [a for a in args if not a.startswith("-")]
    targets = _nox_sessions(args) if tool == "nox" else tasks
    if len(targets) != 1:
        raise OpsError(
            f"{name} runs {len(targets)} {tool} targets ({' '.join(targets) or 'none'})",
            "call exactly one session (`nox -s NAME`) or one task (`invoke NAME --flag=value`,"
            " flags written with `=`)",
        )
    return Call(tool, targets[0], (tool, *args))


def _nox_sessions(args: list[str]) -> list[str]:
    sessions, taking = [], False
    for arg in args:
        if arg == "--":
            break
        if arg in ("-s", "-e", "--session", "--sessions"):
            taking = True
        elif arg.startswith("-"):
            taking = False
        elif taking:
            sessions.append(arg)
    return sessions


# ---- CI definitions ------------------------------------------------------------------


def github_steps(root: Path) -> dict[str, list[str]]:
    """`run:` commands of every GitHub Actions workflow, by workflow file."""
    return {
        f"{GITHUB_DIR}/{path.name}": _strings(_load(path).get("jobs", {}), "run")
        for path in sorted((root / GITHUB_DIR).glob("*.y*ml"))
    }


def bitbucket_steps(root: Path) -> dict[str, list[str]]:
    """`script:`/`after-script:` lines of every Bitbucket pipeline."""
    path = root / BITBUCKET_FILE
    if not path.is_file():
        return {}
    pipelines = _load(path).get("pipelines", {})
    lines = _strings(pipelines, "script") + _strings(pipelines, "after-script")
    return {BITBUCKET_FILE: lines}


def _load(path: Path) -> dict:
    from opskit.core import yamlio

    data = yamlio.load_file(path)
    return data if isinstance(data, dict) else {}


def _strings(node, key: str) -> list[str]:
    """Every string (or list of strings) stored under `key`, anywhere below `node`."""
    found: list[str] = []
    if isinstance(node, dict):
        for k, value in node.items():
            if k == key and isinstance(value, str):
                found.append(value)
            elif k == key and isinstance(value, list):
                found += [v for v in value if isinstance(v, str)]
            else:
                found += _strings(value, key)
    elif isinstance(node, list):
        for item in node:
            found += _strings(item, key)
    return found


def logic_problems(steps: dict[str, list[str]]) -> list[str]:
    """CI steps that do more than run one ci/ script."""
    return [
        f"{source}: step `{command.strip()}` is not a single ci/<stage>.sh call; "
        "move the logic into a ci/ script or an invoke task"
        for source, commands in steps.items()
        for command in commands
        if not STAGE_STEP.fullmatch(command.strip())
    ]


def scripts_used(steps: dict[str, list[str]]) -> set[str]:
    return {m.group(1) for cmds in steps.values() for c in cmds for m in STAGE_STEP.finditer(c)}


# ---- the gate ------------------------------------------------------------------------


def check(root: Path) -> list[str]:
    """Every problem with the CI definitions (empty list: both systems run the same calls)."""
    github, bitbucket = github_steps(root), bitbucket_steps(root)
    problems = logic_problems(github) + logic_problems(bitbucket)
    systems = {
        "GitHub Actions": scripts_used(github),
        "Bitbucket Pipelines": scripts_used(bitbucket),
    }
    calls: dict[str, Call] = {}
    for script in sorted(set().union(*systems.values()) | _stage_scripts(root)):
        try:
            calls[script] = stage_call(root / script)
        except FileNotFoundError:
            problems.append(f"{script} is called by CI but does not exist")
        except OpsError as exc:
            problems.append(str(exc))
    return problems + _parity(systems, calls) + missing_targets(root, set(calls.values()))


def _stage_scripts(root: Path) -> set[str]:
    """Stage scripts in ci/ (a leading underscore marks a sourced library, not a stage)."""
    folder = root / STAGE_DIR
    return {f"{STAGE_DIR}/{p.name}" for p in folder.glob("*.sh") if not p.name.startswith("_")}


def _parity(systems: dict[str, set[str]], calls: dict[str, Call]) -> list[str]:
    problems = []
    (name_a, used_a), (name_b, used_b) = systems.items()
    for script in sorted(set(calls) - used_a - used_b):
        problems.append(
            f"{script} ({calls[script]}) is run by neither CI system; "
            "call it from both or delete it"
        )
    reached = {name: {calls[s] for s in used if s in calls} for name, used in systems.items()}
    for this, other in ((name_a, name_b), (name_b, name_a)):
        for call in sorted(reached[other] - reached[this]):
            problems.append(
                f"{this} never runs `{call}`, which {other} runs; add the same ci/ step to both"
            )
    return problems


# ---- existence of the targets --------------------------------------------------------


def missing_targets(root: Path, calls: set[Call]) -> list[str]:
    """Calls whose nox session or invoke task does not exist in this repository."""
    problems: list[str] = []
    known: dict[str, set[str] | None] = {}
    listings = {"nox": existing_sessions, "invoke": lambda root, _names: invoke_tasks(root)}
    for tool, listing in listings.items():
        wanted = sorted({c.target for c in calls if c.tool == tool})
        try:
            known[tool] = listing(root, wanted) if wanted else set()
        except OpsError as exc:  # the listing itself failed: report it with the rest
            problems.append(str(exc))
            known[tool] = None
    return problems + [
        f"`{call}`: no {call.tool} {LISTED[call.tool]}"
        for call in sorted(calls)
        if (names := known[call.tool]) is not None and call.target not in names
    ]


def existing_sessions(root: Path, names: list[str]) -> set[str]:
    """Which of these nox sessions the noxfile defines (`nox -l --json -s ...`)."""
    argv = [sys.executable, "-m", "nox", "-f", str(root / "noxfile.py"), "-l", "--json", "-s"]
    result = shell.run([*argv, *names], cwd=str(root), check=False, timeout=60)
    if result.returncode == 0:
        return {s["name"] for s in json.loads(result.stdout)}
    found = re.search(r"Sessions not found: (.*)", result.stderr)
    if not found:
        raise OpsError(f"`nox -l` failed: {_last_line(result)}", "run `nox -l` to see why")
    return set(names) - {name.strip() for name in found.group(1).split(",")}


def invoke_tasks(root: Path) -> set[str]:
    """Every task name `invoke --list` knows, dotted, plus namespaces that have a default."""
    argv = [sys.executable, "-m", "invoke", "--search-root", str(root)]
    result = shell.run([*argv, "--list", "--list-format=json"], cwd=str(root), check=False)
    if result.returncode != 0:
        raise OpsError(
            f"`invoke --list` failed: {_last_line(result)}", "run `invoke --list` to see why"
        )
    return _flatten(json.loads(result.stdout), "")


def _last_line(result: shell.Result) -> str:
    lines = (result.stderr or result.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit code {result.returncode}"


def _flatten(collection: dict, prefix: str) -> set[str]:
    names = {prefix + t["name"] for t in collection["tasks"]}
    names |= {prefix + a for t in collection["tasks"] for a in t["aliases"]}
    if prefix and collection.get("default"):
        names.add(prefix.rstrip("."))
    for sub in collection["collections"]:
        names |= _flatten(sub, f"{prefix}{sub['name']}.")
    return names
