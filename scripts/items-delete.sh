#!/usr/bin/env bash
# Usage: scripts/items-delete.sh ID -- delete one item (DELETE /api/items/ID).
# Environment: OVERLAY, API_HOST, API_PORT, API_ADDR, CAROOT (see scripts/lib.sh).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 1 ] || die "usage: $(basename "$0") ID"
check_id "$1"
api_request DELETE "/items/$1"
