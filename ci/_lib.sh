# shellcheck shell=bash
# Sourced by every ci/<stage>.sh, never run: go to the repository root and give the
# stage the functions that set up what a CI runner lacks. After setup, a stage script
# makes exactly ONE nox or invoke call (`invoke lint.ci` checks this).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Versions live in opskit.yaml only (kubernetes.version, cluster.k3d.version).
pinned() {
  .venv/bin/python -c "from opskit.core import config; print(config.load().$1)"
}

CHECKSUMS="$PWD/ci/checksums.sha256"  # sha256 of each downloaded binary, by name and version
CI_BIN="$PWD/.tools/ci-bin"  # downloaded CI-only binaries (git-ignored with .tools)
STAGE="${0##*/}"

say() { printf 'ci: %s: %s\n' "$STAGE" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Every stage's output also goes to ci-logs/<stage>.log, which CI keeps when a step fails.
mkdir -p ci-logs
exec > >(tee -a "ci-logs/${STAGE%.sh}.log") 2>&1

# System packages and the project venv, through the same bootstrap people run.
setup() {
  say "setting up the runner (./bootstrap.sh setup)"
  ./bootstrap.sh setup
  export PATH="$PWD/.venv/bin:$CI_BIN:$PATH"
}

# Download $1 to $2 and check it against the sha256 $3 (nothing is installed on a mismatch).
fetch_verified() {
  local url="$1" dest="$2" sum="$3"
  mkdir -p "$(dirname "$dest")"
  curl -fsSLo "$dest.part" "$url"
  echo "$sum  $dest.part" | sha256sum --check --quiet - || die "checksum mismatch for $url"
  chmod +x "$dest.part"
  mv "$dest.part" "$dest"
}

# k3d for the containerized-cluster stage: the pinned release binary, checksum-verified.
need_k3d() {
  local version sum
  version="$(pinned cluster.k3d.version)"
  if [ "$(k3d version 2>/dev/null | sed -n 's/^k3d version //p')" = "$version" ]; then
    return
  fi
  sum="$(awk -v name="k3d-$version-linux-amd64" '$2 == name {print $1}' "$CHECKSUMS")"
  [ -n "$sum" ] ||
    die "no checksum for k3d $version: add its k3d-linux-amd64 sha256 to ci/checksums.sha256"
  fetch_verified "https://github.com/k3d-io/k3d/releases/download/$version/k3d-linux-amd64" \
    "$CI_BIN/k3d" "$sum"
}

# kubectl at the cluster's version (opskit.yaml kubernetes.version), so client and server
# never skew; the checksum is the one dl.k8s.io publishes beside the binary.
need_kubectl() {
  local KUBECTL_VERSION have url
  KUBECTL_VERSION="v$(pinned kubernetes.version)"
  have="$(kubectl version --client -o json 2>/dev/null |
    python -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])' \
    2>/dev/null || true)"
  if [ "${have%.*}" = "${KUBECTL_VERSION%.*}" ]; then
    return
  fi
  say "kubectl ${have:-missing} does not match the cluster's ${KUBECTL_VERSION%.*}:" \
    "installing $KUBECTL_VERSION"
  url="https://dl.k8s.io/release/$KUBECTL_VERSION/bin/linux/amd64/kubectl"
  fetch_verified "$url" "$CI_BIN/kubectl" "$(curl -fsSL "$url.sha256")"
}

# GitHub gives no secrets to pull requests from forks or from Dependabot: there a cluster-e2e
# stage ends with a notice instead of failing at need_age_key (a push without the key fails).
cluster_e2e_or_skip() {
  if [ -z "${SOPS_AGE_KEY:-}${SOPS_AGE_KEY_FILE:-}" ] &&
    [ "${GITHUB_EVENT_NAME:-}" = pull_request ]; then
    echo "::notice title=cluster-e2e skipped::no SOPS_AGE_KEY on this pull request" \
      "(GitHub gives no secrets to forks or Dependabot): ${STAGE%.sh} did not run"
    exit 0
  fi
}

# The age key the dev secrets are encrypted to: CI maps it from a secret into SOPS_AGE_KEY.
need_age_key() {
  [ -n "${SOPS_AGE_KEY:-}${SOPS_AGE_KEY_FILE:-}" ] ||
    die "SOPS_AGE_KEY is not set: map the dev recipient's age key from a CI secret"
}

# The registry image: OPSKIT_IMAGE from the CI (lower-cased: registries refuse upper case).
need_image() {
  [ -n "${OPSKIT_IMAGE:-}" ] ||
    die "OPSKIT_IMAGE is not set: set it to the registry repository the release pushes to"
  OPSKIT_IMAGE="${OPSKIT_IMAGE,,}"
  # the telemetry image (opskit.yaml images:) lives beside the app's, in the same registry
  OPSKIT_IMAGE_TELEMETRY="${OPSKIT_IMAGE_TELEMETRY:-${OPSKIT_IMAGE%/*}/telemetry}"
  OPSKIT_IMAGE_TELEMETRY="${OPSKIT_IMAGE_TELEMETRY,,}"
  export OPSKIT_IMAGE OPSKIT_IMAGE_TELEMETRY
}

# A registry login where the CI gives credentials as variables (GitHub logs in by an action).
registry_login() {
  if [ -n "${REGISTRY_USER:-}" ]; then
    [ -n "${REGISTRY_PASSWORD:-}" ] || die "REGISTRY_USER is set but REGISTRY_PASSWORD is not"
    printf '%s' "$REGISTRY_PASSWORD" |
      docker login "${OPSKIT_IMAGE%%/*}" --username "$REGISTRY_USER" --password-stdin
  fi
}

# A commit needs an identity; runners have none. GitHub sets GIT_* in the workflow.
need_git_identity() {
  if [ -z "${GIT_AUTHOR_NAME:-}" ] && ! git config user.name >/dev/null; then
    export GIT_AUTHOR_NAME="opskit release" GIT_COMMITTER_NAME="opskit release"
    export GIT_AUTHOR_EMAIL="release@gitops-lab.invalid"
    export GIT_COMMITTER_EMAIL="release@gitops-lab.invalid"
  fi
}

# helm, built from its pin (opskit.yaml tools.helm): monitoring installs Prometheus with it.
need_helm() {
  invoke tools.install --only=helm
}

# sops, built from its pin: deploy decrypts the dev secrets with it.
need_sops() {
  invoke tools.install --only=sops
}
