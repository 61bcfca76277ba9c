#!/usr/bin/env bash
# Stage image: docker build of app/, tagged by the commit (--force: build even when
# the configured cluster runs no containers).
# shellcheck source=_lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/_lib.sh"
setup
[ -z "${OPSKIT_IMAGE:-}" ] || need_image
exec invoke image.build --force
