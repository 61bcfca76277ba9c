#!/usr/bin/env bash
# Stage cluster-e2e, step 3: deploy the dev overlay to the current cluster.
# shellcheck source=_lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/_lib.sh"
cluster_e2e_or_skip
setup
need_age_key
need_kubectl
need_sops
exec invoke deploy --overlay=dev --report=reports/deploy
