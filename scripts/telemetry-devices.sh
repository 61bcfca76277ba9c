#!/usr/bin/env bash
# Usage: scripts/telemetry-devices.sh -- devices with their reading counts (GET /api/devices).
# Environment: TELEMETRY_URL (see scripts/telemetry-lib.sh).
set -euo pipefail
# shellcheck source=scripts/telemetry-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/telemetry-lib.sh"

telemetry_request /api/devices
