#!/usr/bin/env bash
# Usage: scripts/items-get.sh ID -- one item (GET /api/items/ID).
# Environment: OVERLAY, API_HOST, API_PORT, API_ADDR, CAROOT (see scripts/lib.sh).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 1 ] || die "usage: $(basename "$0") ID"
check_id "$1"
api_request GET "/items/$1"
