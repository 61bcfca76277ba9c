#!/usr/bin/env bash
# Stage cluster-e2e, step 4: testinfra + HTTPS checks against the cluster.
# shellcheck source=_lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/_lib.sh"
cluster_e2e_or_skip
setup
need_kubectl
exec nox -s cluster-smoke -- --report=reports/smoke
