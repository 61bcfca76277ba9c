"""kube-score in lint: the real binary over the real overlays, a new finding fails, an
ignore entry that matches nothing fails, and the JSON it prints is read correctly."""

from __future__ import annotations

import json

import pytest

from opskit.core import tools
from opskit.lint import kubescore

needs_kube_score = pytest.mark.tools("kube-score")
WRITABLE_ROOT = {
    "target": {"kind": "Deployment", "name": "api"},
    "ops": [
        {
            "op": "replace",
            "path": "/spec/template/spec/containers/0/securityContext/readOnlyRootFilesystem",
            "value": False,
        }
    ],
}


@needs_kube_score
def test_the_real_overlays_have_only_the_deliberate_findings(cfg):
    results = kubescore.score(cfg, tools.which("kube-score"))
    assert sorted(results) == ["dev", "prod"]
    assert kubescore.verdict(results) == ([], [])
    assert all(f.grade in ("CRITICAL", "WARNING") for found in results.values() for f in found)


@needs_kube_score
def test_a_new_finding_fails(cfg, broken_overlay):
    results = kubescore.score(cfg, tools.which("kube-score"), [broken_overlay([WRITABLE_ROOT])])
    new, _stale = kubescore.verdict(results)
    assert [(f.where, f.check, f.grade) for f in new] == [
        ("dev/Deployment/api", "container-security-context-readonlyrootfilesystem", "CRITICAL")
    ]
    assert "(api) The pod has a container with a writable root filesystem" in new[0].summary


def test_an_ignore_that_matches_nothing_is_reported():
    found = kubescore.Finding("dev/Deployment/api", "deployment-replicas", "WARNING", "few")
    unused = kubescore.Ignore("pod-probes", "*", "gone")
    used = kubescore.Ignore("deployment-replicas", "dev/Deployment/*", "one replica")
    assert kubescore.verdict({"dev": [found]}, (used, unused)) == ([], [unused])
    assert kubescore.verdict({"dev": [found]}, (unused,)) == ([found], [unused])


def test_findings_reads_grades_and_skips_the_rest():
    output = [
        {
            "type_meta": {"kind": "Deployment"},
            "object_meta": {"name": "api"},
            "checks": [
                {
                    "check": {"id": "a"},
                    "grade": 1,
                    "skipped": False,
                    "comments": [{"path": "api", "summary": "bad"}],
                },
                {"check": {"id": "b"}, "grade": 5, "skipped": False, "comments": None},
                {"check": {"id": "c"}, "grade": 10, "skipped": False, "comments": []},
                {"check": {"id": "d"}, "grade": 1, "skipped": True, "comments": []},
            ],
        }
    ]
    assert [str(f) for f in kubescore.findings("dev", json.dumps(output))] == [
        "dev/Deployment/api: [CRITICAL] a: (api) bad",
        "dev/Deployment/api: [WARNING] b:",
    ]
