#!/usr/bin/env bash
# Stage release, step 1: push the image tagged by the commit.
# shellcheck source=_lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/_lib.sh"
setup
need_image
registry_login
exec invoke image.push
