#!/usr/bin/env bash
# Set up this machine for GitOps Lab, then run the main job or the tests.
#   ./bootstrap.sh deploy   tools, embedded cluster, dev secrets + TLS, `invoke deploy --overlay=dev`
#   ./bootstrap.sh test     every default nox session (lint, tests, e2e)
#   ./bootstrap.sh setup    only the setup: system packages and the .venv
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(git curl openssl age mkcert shellcheck elixir make python3-venv
  mosquitto mosquitto-clients postgresql  # the telemetry tests start a broker and a database
  redis-server                            # ArgoCD's cache on the embedded cluster
  runc containernetworking-plugins iptables nftables ipset  # the embedded cluster's real node
  mmdebstrap buildah gcc libc6-dev)       # its images, built here without a registry
VENV=.venv

say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

install_packages() {
  local missing=()
  for cmd in git curl openssl age mkcert shellcheck elixir make redis-server \
    runc iptables nft ipset mmdebstrap buildah gcc; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
  done
  python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
  [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
  command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
  [ "${#missing[@]}" -eq 0 ] && return 0
  say "installing system packages (missing: ${missing[*]})"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  command -v apt-get >/dev/null 2>&1 \
    || die "missing ${missing[*]} and no apt-get here; install them with your package manager"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${APT_PACKAGES[@]}" >/dev/null
}

# Only the cluster and the tests need these (CI steps that just lint do not).
check_toolchains() {
  command -v go >/dev/null 2>&1 || die "Go >= 1.26 is needed to build the pinned tools; see go.dev/dl"
  command -v kubectl >/dev/null 2>&1 || die "kubectl >= 1.31 is needed; see kubernetes.io/docs/tasks/tools"
  command -v python3 >/dev/null 2>&1 || die "Python >= 3.11 is needed"
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "Python >= 3.11 is needed"
}

make_venv() {
  local stamp="$VENV/.opskit-stamp" want
  want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  say "creating $VENV with opskit and its dev tools"
  python3 -m venv "$VENV"
  # compat mode: a plain path entry, no import finder (keeps `invoke --list` fast)
  "$VENV/bin/python" -m pip install -q -e '.[dev]' --config-settings editable_mode=compat
  echo "$want" > "$stamp"
}

setup() {
  install_packages
  make_venv
}

deploy() {
  setup
  check_toolchains
  export PATH="$PWD/$VENV/bin:$PATH"
  invoke tools.install
  # the embedded cluster's real node (kubelet, containerd, ...): only root can run it
  [ "$(id -u)" -ne 0 ] || invoke tools.install --only=node
  invoke cluster.up
  invoke secrets.init --overlay dev
  invoke certs.init
  local dirty=()
  if [ -n "$(git status --porcelain)" ]; then
    say "the working tree has uncommitted changes (e.g. dev secrets made for your key):" \
        "deploying them with --allow-dirty; commit them to deploy by commit"
    dirty=(--allow-dirty)
  fi
  invoke deploy --overlay=dev "${dirty[@]}"
  say "done: source $VENV/bin/activate, then try \`invoke --list\` or \`nox -s cluster-smoke\`"
}

run_tests() {
  setup
  check_toolchains
  export PATH="$PWD/$VENV/bin:$PATH"
  nox "$@"
}

case "${1:-}" in
  setup) setup ;;
  deploy) deploy ;;
  test) shift; run_tests "$@" ;;
  *) die "usage: ./bootstrap.sh deploy | test [nox args] | setup" ;;
esac
