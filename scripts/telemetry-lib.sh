# shellcheck shell=bash
# Shared by the scripts/telemetry-*.sh curl wrappers: calls to the telemetry service's HTTP API,
# through its Ingress (HTTPS, verified against the project's mkcert CA; never turned off), e.g.
#   TELEMETRY_URL=https://telemetry.dev.gitops-lab.localhost:8443   (k3d, the real node)
# or through a port-forward:
#   kubectl -n gitops-lab-dev port-forward svc/telemetry 8080:8080
#   TELEMETRY_URL  base URL of the service (default: http://127.0.0.1:8080)
#   CAROOT         the mkcert CA folder for an https URL (default: <repository>/.certs/ca)
set -euo pipefail

TELEMETRY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() {
  printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2
  exit 1
}

# A device id we put into a URL path: nothing can smuggle `../` or `?`.
check_device() {
  [[ "${1:-}" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] \
    || die "invalid device id '${1:-}' (letters, digits, ., - and _)"
}

# telemetry_request PATH [curl args...]: print the JSON response; exit 1 naming the HTTP
# status when it is 400 or more (the response body goes to stderr then).
telemetry_request() {
  local path="$1" url out status ca
  local tls=(--proto "=http,https")
  shift
  url="${TELEMETRY_URL:-http://127.0.0.1:8080}$path"
  if [[ "$url" == https://* ]]; then
    ca="${CAROOT:-$TELEMETRY_ROOT/.certs/ca}/rootCA.pem"
    [ -f "$ca" ] || die "no CA certificate at $ca; run \`invoke certs.init\`"
    tls=(--proto "=https" --tlsv1.2 --cacert "$ca")
  fi
  out="$(curl --silent --show-error "${tls[@]}" --connect-timeout 5 --max-time 30 \
    --header "Accept: application/json" --write-out '\n%{http_code}' "$@" "$url")" \
    || die "GET $url failed (curl exit $?); is the service reachable (TELEMETRY_URL)?"
  status="${out##*$'\n'}"
  out="${out%$'\n'*}"
  if [ "$status" -ge 400 ]; then
    [ -z "$out" ] || printf '%s\n' "$out" >&2
    die "HTTP $status from GET $url"
  fi
  [ -z "$out" ] || printf '%s\n' "$out"
}
