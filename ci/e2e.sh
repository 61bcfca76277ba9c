#!/usr/bin/env bash
# Stage e2e: end-to-end tests on a fresh kwok cluster (builds the Go tools).
# shellcheck source=_lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/_lib.sh"
setup
need_kubectl
exec nox -s e2e
