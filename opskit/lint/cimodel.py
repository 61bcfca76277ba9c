"""The CI definitions as data: every GitHub job and Bitbucket step with what it declares.

`cleanroom.room` runs them from this model and the tests check the CI files' facts
against it (setup steps, pins, secrets mapped, gates), so both read the files one way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opskit.core.errors import OpsError
from opskit.lint.ci import BITBUCKET_FILE, GITHUB_DIR, _load

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
PIN = re.compile(r"uses:\s*(?P<action>[\w.-]+/[\w./-]+)@(?P<ref>\S+)(?:\s+#\s*(?P<comment>\S+))?")


@dataclass(frozen=True)
class Step:
    """One step: an action (`uses`) with its inputs, or shell lines (`run`/`script`)."""

    uses: str = ""  # owner/repo of the action, without the ref
    ref: str = ""
    with_: dict[str, str] = field(default_factory=dict)
    run: str = ""
    env: dict[str, str] = field(default_factory=dict)
    if_: str = ""


@dataclass(frozen=True)
class Job:
    """A GitHub job or a Bitbucket step: where it runs and what it declares."""

    system: str  # "github" | "bitbucket"
    source: str  # file it comes from
    name: str
    image: str  # GitHub runs-on label, Bitbucket Docker image or runner labels
    steps: tuple[Step, ...]
    env: dict[str, str] = field(default_factory=dict)
    if_: str = ""
    needs: tuple[str, ...] = ()
    caches: tuple[str, ...] = ()  # Bitbucket cache names
    services: tuple[str, ...] = ()  # Bitbucket services (docker)
    on: dict[str, Any] = field(default_factory=dict)  # the workflow's triggers (GitHub)

    @property
    def title(self) -> str:
        return f"{self.source}:{self.name}"

    def runs(self) -> list[str]:
        return [s.run for s in self.steps if s.run]


def _strings(mapping: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (mapping or {}).items()}


def github_jobs(root: Path) -> list[Job]:
    """Every job of every workflow, in file order."""
    jobs = []
    for path in sorted((root / GITHUB_DIR).glob("*.y*ml")):
        data = _load(path)
        source = f"{GITHUB_DIR}/{path.name}"
        on = data.get("on", data.get(True)) or {}  # YAML 1.1 reads the key `on` as True
        for name, job in (data.get("jobs") or {}).items():
            steps = tuple(_github_step(s) for s in job.get("steps") or [])
            needs = job.get("needs") or ()
            jobs.append(
                Job(
                    "github",
                    source,
                    str(name),
                    str(job.get("runs-on", "")),
                    steps,
                    env={**_strings(data.get("env")), **_strings(job.get("env"))},
                    if_=str(job.get("if", "")).strip(),
                    needs=(needs,) if isinstance(needs, str) else tuple(needs),
                    on=on if isinstance(on, dict) else {str(on): {}},
                )
            )
    return jobs


def _github_step(step: dict) -> Step:
    uses, _, ref = str(step.get("uses", "")).partition("@")
    return Step(
        uses=uses,
        ref=ref,
        with_=_strings(step.get("with")),
        run=str(step.get("run", "")).strip(),
        env=_strings(step.get("env")),
        if_=str(step.get("if", "")).strip(),
    )


def bitbucket_jobs(root: Path) -> list[Job]:
    """Every distinct step of bitbucket-pipelines.yml (a step used by several pipelines once)."""
    path = root / BITBUCKET_FILE
    data = _load(path)
    default_image = _image_name(data.get("image"))
    jobs: dict[str, Job] = {}
    for step in _pipeline_steps(data.get("pipelines") or {}):
        runs_on = step.get("runs-on")
        image = ",".join(runs_on) if runs_on else _image_name(step.get("image")) or default_image
        lines = [*(step.get("script") or []), *(step.get("after-script") or [])]
        jobs.setdefault(
            step["name"],
            Job(
                "bitbucket",
                BITBUCKET_FILE,
                str(step["name"]),
                image,
                tuple(Step(run=str(line)) for line in lines if isinstance(line, str)),
                caches=tuple(step.get("caches") or ()),
                services=tuple(step.get("services") or ()),
            ),
        )
    return list(jobs.values())


def _image_name(image: Any) -> str:
    return str(image.get("name", "")) if isinstance(image, dict) else str(image or "")


def _pipeline_steps(node: Any) -> list[dict]:
    """Every `step:` mapping below `node` (parallel groups and all pipelines included)."""
    if isinstance(node, list):
        return [s for item in node for s in _pipeline_steps(item)]
    if not isinstance(node, dict):
        return []
    if isinstance(node.get("step"), dict):
        return [node["step"]]
    return [s for value in node.values() for s in _pipeline_steps(value)]


def bitbucket_pipelines(root: Path) -> dict[str, list[list[str]]]:
    """Each pipeline as its stages in order, each stage the names of its steps."""
    data = _load(root / BITBUCKET_FILE).get("pipelines") or {}
    flat = {"default": data.get("default")}
    for group in ("branches", "custom", "tags", "pull-requests"):
        flat |= {f"{group}.{k}": v for k, v in (data.get(group) or {}).items()}
    return {
        name: [[s["name"] for s in _pipeline_steps(stage)] for stage in stages or []]
        for name, stages in flat.items()
        if stages
    }


def action_pins(root: Path) -> list[tuple[str, int, str, str, str]]:
    """(file, line, action, ref, version comment) of every `uses:` (comments need raw text)."""
    pins = []
    for path in sorted((root / GITHUB_DIR).glob("*.y*ml")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if match := PIN.search(line):
                pins.append(
                    (path.name, number, match["action"], match["ref"], match["comment"] or "")
                )
    return pins


def evaluate(text: str, context: dict[str, str]) -> str:
    """`${{ name }}` replaced by its value (unknown names: empty, as GitHub does)."""
    return EXPRESSION.sub(lambda m: context.get(m.group(1), ""), text)


def condition(expr: str, context: dict[str, str], failed: bool) -> bool:
    """A job/step `if:` of the forms the workflows use: status functions, ==, &&."""
    expr = EXPRESSION.sub(lambda m: m.group(1), expr or "").strip()
    status = {"always()": True, "!cancelled()": True, "failure()": failed, "success()": not failed}
    terms = [t.strip() for t in expr.split("&&")] if expr else []
    verdicts = [] if any(t in status for t in terms) else [not failed]  # implicit success()
    for term in terms:
        if term in status:
            verdicts.append(status[term])
        elif "==" in term:
            name, value = (t.strip() for t in term.split("==", 1))
            verdicts.append(context.get(name, "") == value.strip("'\""))
        else:
            raise OpsError(f"cleanroom: cannot evaluate `if: {expr}`", "keep `if:` simple")
    return all(verdicts)
