#!/usr/bin/env bash
# Stage cluster-e2e, step 2: deploy the dev overlay to the current cluster.
# shellcheck source=_lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/_lib.sh"
setup
exec invoke deploy --overlay=dev --report=reports/deploy
