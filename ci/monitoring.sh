#!/usr/bin/env bash
# Stage cluster-e2e, step 2: Prometheus (kube-prometheus-stack), which cluster-smoke checks.
# shellcheck source=_lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/_lib.sh"
cluster_e2e_or_skip
setup
need_helm
exec invoke monitoring.install
