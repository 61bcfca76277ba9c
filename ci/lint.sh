#!/usr/bin/env bash
# Stage lint: ruff, yamllint, shellcheck, Elixir, secrets, CI schemas + parity.
# shellcheck source=_lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/_lib.sh"
setup
need_kubectl  # kube-score scores the overlays kubectl renders
exec nox -s lint
