#!/usr/bin/env bash
# Stage cluster-e2e, step 1: a real containerized cluster (k3d, with registry).
# shellcheck source=_lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/_lib.sh"
cluster_e2e_or_skip
setup
need_k3d
need_kubectl
exec invoke cluster.up --provider=k3d
