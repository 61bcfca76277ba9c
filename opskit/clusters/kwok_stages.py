"""kwok Stages for the suite's clusters: kwok's defaults plus one failure stage.

Giving kwokctl any Stage replaces all of its built-in ones, so the defaults of kwok
v0.7.0 (kustomize/stage/node/fast, node/heartbeat-with-lease, pod/fast) are carried here
verbatim (v0.8.0 serves the same template functions), except that the node stages
take v0.8.0's `addresses` block (a node that already has an InternalIP keeps its list:
re-sending two InternalIP entries is a duplicate Kubernetes 1.37 refuses, and the node
never becomes Ready) and `pod-ready` skips pods labelled NEVER_READY_LABEL. Those pods match
`pod-never-ready` instead: Running, with a container that never becomes Ready, like an
app whose readiness probe keeps failing. Selectors are disjoint (kwok picks at random
among matches). The Stages are data: stages/defaults.yaml and stages/never-ready.yaml.
"""

from pathlib import Path

NEVER_READY_LABEL = "opskit.dev/never-ready"
STAGE_FILES = ("defaults.yaml", "never-ready.yaml")  # package data in opskit/clusters/stages
STAGES = "---\n".join((Path(__file__).parent / "stages" / f).read_text() for f in STAGE_FILES)
