# shellcheck shell=bash
# Sourced by every ci/<stage>.sh, never run: go to the repository root and give the
# stage the functions that set up what a CI runner lacks. After setup, a stage script
# makes exactly ONE nox or invoke call (`invoke lint.ci` checks this).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Versions live in opskit.yaml only (kubernetes.version, cluster.k3d.version).
pinned() {
  .venv/bin/python -c "from opskit import config; print(config.load().$1)"
}

# System packages and the project venv, through the same bootstrap people run.
setup() {
  echo "ci: ${0##*/}: setting up the runner (./bootstrap.sh setup)" >&2
  ./bootstrap.sh setup
  export PATH="$PWD/.venv/bin:$PATH"
}

# k3d for the containerized-cluster stage, from its pinned official install script.
need_k3d() {
  if command -v k3d >/dev/null; then
    return
  fi
  local K3D_VERSION
  K3D_VERSION="$(pinned cluster.k3d.version)"
  curl -fsSL "https://raw.githubusercontent.com/k3d-io/k3d/${K3D_VERSION}/install.sh" |
    TAG="$K3D_VERSION" bash
}

# kubectl for runner images that lack it (GitHub's have it), pinned like the cluster.
need_kubectl() {
  if command -v kubectl >/dev/null; then
    return
  fi
  local KUBECTL_VERSION
  KUBECTL_VERSION="v$(pinned kubernetes.version)"
  curl -fsSLo /usr/local/bin/kubectl \
    "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/amd64/kubectl"
  chmod +x /usr/local/bin/kubectl
}
