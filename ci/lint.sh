#!/usr/bin/env bash
# Stage lint: ruff, yamllint, shellcheck, Elixir, secrets, CI schemas + parity.
# shellcheck source=_lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/_lib.sh"
setup
exec nox -s lint
