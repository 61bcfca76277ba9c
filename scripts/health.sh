#!/usr/bin/env bash
# Usage: scripts/health.sh -- GET /api/health of the overlay's API.
# Environment: OVERLAY, API_HOST, API_PORT, API_ADDR, CAROOT (see scripts/lib.sh).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

api_request GET /health
