#!/usr/bin/env bash
# Stage release, step 2: pin the dev overlay to this commit and push it.
# shellcheck source=_lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/_lib.sh"
setup
need_image
need_git_identity
exec invoke release --overlay=dev --push
