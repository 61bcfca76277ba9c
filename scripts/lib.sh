# shellcheck shell=bash
# Shared by the scripts/*.sh curl wrappers: HTTPS calls to the API of one overlay, verified
# against the project's mkcert CA (`invoke certs.init`); verification is never turned off.
#   OVERLAY   overlay in opskit.yaml whose first host is called (default: dev)
#   API_HOST  call this host name instead of the overlay's
#   API_PORT  HTTPS port (default: 443)
#   API_ADDR  connect to this address instead of resolving the host (curl --resolve)
#   CAROOT    the mkcert CA folder (default: <repository>/.certs/ca)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() {
  printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2
  exit 1
}

# The first entry of overlays.<name>.hosts in opskit.yaml (written as `hosts: [a, b]`).
overlay_host() {
  awk -v want="$1" '
    /^overlays:/ { inside = 1; next }
    inside && /^[^ #]/ { inside = 0 }
    inside && /^  [A-Za-z0-9_-]+:/ { name = $1; sub(/:.*/, "", name); next }
    inside && name == want && /^    hosts:/ {
      sub(/^[^[]*\[/, ""); sub(/[],].*$/, ""); gsub(/[ "\047]/, ""); print; exit
    }' "$ROOT/opskit.yaml"
}

# A path segment we put into a URL: ids only, so nothing can smuggle `../` or `?`.
check_id() {
  [[ "${1:-}" =~ ^[A-Za-z0-9_-]+$ ]] || die "invalid item id '${1:-}' (letters, digits, - and _)"
}

# A JSON document from an argument, or from stdin when the argument is `-`.
json_arg() {
  if [ "${1:-}" = "-" ]; then cat; else printf '%s' "${1:-}"; fi
}

# api_request METHOD PATH [JSON-BODY]: print the JSON response; exit 1 naming the HTTP status
# when it is 400 or more (the response body goes to stderr then).
api_request() {
  local method="$1" path="$2" body="${3:-}"
  local overlay="${OVERLAY:-dev}" host port ca url out status
  host="${API_HOST:-$(overlay_host "$overlay")}"
  [ -n "$host" ] || die "overlay '$overlay' has no hosts in $ROOT/opskit.yaml; set OVERLAY or API_HOST"
  port="${API_PORT:-443}"
  ca="${CAROOT:-$ROOT/.certs/ca}/rootCA.pem"
  [ -f "$ca" ] || die "no CA certificate at $ca; run \`invoke certs.init\`"
  url="https://$host:$port/api$path"
  local args=(--silent --show-error --proto "=https" --tlsv1.2 --cacert "$ca"
    --connect-timeout 5 --max-time 30 --request "$method"
    --header "Accept: application/json" --write-out '\n%{http_code}')
  if [ -n "${API_ADDR:-}" ]; then args+=(--resolve "$host:$port:$API_ADDR"); fi
  if [ -n "$body" ]; then
    args+=(--header "Content-Type: application/json" --data-binary "$body")
  fi
  out="$(curl "${args[@]}" "$url")" || die "$method $url failed (curl exit $?)"
  status="${out##*$'\n'}"
  out="${out%$'\n'*}"
  if [ "$status" -ge 400 ]; then
    [ -z "$out" ] || printf '%s\n' "$out" >&2
    die "HTTP $status from $method $url"
  fi
  [ -z "$out" ] || printf '%s\n' "$out"
}
