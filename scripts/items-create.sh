#!/usr/bin/env bash
# Usage: scripts/items-create.sh ATTRS-JSON|- -- create an item: POST /api/items {"item": ATTRS}.
# Environment: OVERLAY, API_HOST, API_PORT, API_ADDR, CAROOT (see scripts/lib.sh).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 1 ] || die "usage: $(basename "$0") '{\"name\": \"x\"}' (or - to read stdin)"
api_request POST /items "{\"item\": $(json_arg "$1")}"
