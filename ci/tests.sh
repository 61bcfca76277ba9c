#!/usr/bin/env bash
# Stage tests: unit and manifest tests with the coverage floor.
# shellcheck source=_lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/_lib.sh"
setup
exec nox -s tests
