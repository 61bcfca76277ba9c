#!/usr/bin/env bash
# Usage: scripts/items-update.sh ID ATTRS-JSON|- -- update: PUT /api/items/ID {"item": ATTRS}.
# Environment: OVERLAY, API_HOST, API_PORT, API_ADDR, CAROOT (see scripts/lib.sh).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 2 ] || die "usage: $(basename "$0") ID '{\"name\": \"y\"}' (or - to read stdin)"
check_id "$1"
api_request PUT "/items/$1" "{\"item\": $(json_arg "$2")}"
