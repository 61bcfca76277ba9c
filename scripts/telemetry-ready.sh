#!/usr/bin/env bash
# Usage: scripts/telemetry-ready.sh -- is the service subscribed and its database reachable?
# (GET /ready; exit 1 with the failing checks when not). Environment: TELEMETRY_URL.
set -euo pipefail
# shellcheck source=scripts/telemetry-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/telemetry-lib.sh"

telemetry_request /ready
