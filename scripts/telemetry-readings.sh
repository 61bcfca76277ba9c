#!/usr/bin/env bash
# Usage: scripts/telemetry-readings.sh DEVICE [SINCE] -- a device's readings, oldest first,
# from SINCE (ISO 8601 with a zone, e.g. 2026-01-01T00:00:00Z) on
# (GET /api/devices/DEVICE/readings?since=SINCE). Environment: TELEMETRY_URL.
set -euo pipefail
# shellcheck source=scripts/telemetry-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/telemetry-lib.sh"

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then die "usage: $(basename "$0") DEVICE [SINCE]"; fi
check_device "$1"
if [ -n "${2:-}" ]; then
  telemetry_request "/api/devices/$1/readings" --get --data-urlencode "since=$2"
else
  telemetry_request "/api/devices/$1/readings"
fi
