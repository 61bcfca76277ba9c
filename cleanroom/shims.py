"""Stand-ins the clean room puts on a job's PATH for what cannot run here.

A stand-in stands only for what the job's runner image ships (`cleanroom.runners`) or what
the job's own steps install (a download it fetches, a tool it builds). Each records its argv
in $CLEANROOM_RECORD (one line per call) and answers as the real tool would for the calls CI
makes: docker (engine and registry), helm, kind, minikube, kustomize, k3d, an image's Go this
machine does not have, apt-get, sudo and the runner's user id, curl (downloads served from
this machine; everything else is the real curl), and the `cleanroom-asserted` stand-in for
stage calls that need a cluster: it first checks that the commands the call runs are there.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

RECORD = 'printf "%s\\n" "$(basename "$0") $*" >> "$CLEANROOM_RECORD"'

DOCKER = f"""#!/usr/bin/env bash
{RECORD}
case "$1" in
  --version) echo "Docker version @VERSION@, build cleanroom" ;;
  info) echo "Server Version: @VERSION@ (clean room: engine asserted)" ;;
  login)
    registry="$2"; cat >/dev/null
    [ -n "$registry" ] || {{ echo "cleanroom: docker login without a registry" >&2; exit 1; }}
    echo "$registry" >> "$CLEANROOM_LOGINS"; echo "Login Succeeded" ;;
  push)
    host="${{2%%/*}}"
    if [ "$2" != "${{2,,}}" ]; then
      echo "invalid reference format: repository name ($2) must be lowercase" >&2; exit 1
    fi
    grep -qxF "$host" "$CLEANROOM_LOGINS" 2>/dev/null || {{
      echo "cleanroom: push to $host without a registry login (unauthorized)" >&2; exit 1; }} ;;
  image) [ "$2" = inspect ] && echo "sha256:cleanroom" ;;
esac
exit 0
"""

VERSIONED = f"""#!/usr/bin/env bash
{RECORD}
case "$1" in version|--version) printf '%b\\n' "@VERSION_LINE@" ;; esac
exit 0
"""
VERSION_LINES = {  # what `<tool> version` prints, as the real one's first lines
    "k3d": "k3d version @VERSION@\\nk3s version (default)",
    "helm": "@VERSION@+gcleanroom",
    "kind": "kind @VERSION@ go1.25 linux/amd64",
    "minikube": "minikube version: @VERSION@",
    "kustomize": "@VERSION@",
}

GO = """#!/usr/bin/env bash
# the image's own Go, which this machine does not have: it answers what reports its version
case "$1 ${2:-}" in
  "version "*) echo "go version go$CLEANROOM_GO linux/amd64"; exit 0 ;;
  "env GOVERSION") echo "go$CLEANROOM_GO"; exit 0 ;;
esac
echo "go: the image's Go $CLEANROOM_GO cannot run here: set up the Go of .go-version" >&2
exit 1
"""

APT_GET = f"""#!/usr/bin/env bash
{RECORD}
if [ "$(id -u)" -ne 0 ]; then echo "apt-get: permission denied (use sudo)" >&2; exit 100; fi
[ "$1" = update ] && exit 0
packages=(); for a in "$@"; do case "$a" in -*|install) ;; *) packages+=("$a") ;; esac; done
exec "$CLEANROOM_PYTHON" -m cleanroom.shims --apt "${{packages[@]}}"
"""

SUDO = f"""#!/usr/bin/env bash
# passwordless sudo of the runner's user: the command runs as root
{RECORD}
while [ "${{1#-}}" != "${{1:-}}" ]; do shift; done
CLEANROOM_UID=0 exec "$@"
"""

ID = """#!/usr/bin/env bash
# the runner's user is not root (GitHub's `runner`, a shell runner's own user), sudo's is
if [ "$*" = -u ]; then echo "$CLEANROOM_UID"; exit 0; fi
exec "$CLEANROOM_ID" "$@"
"""

SHA256SUM = """#!/usr/bin/env bash
# a download the clean room served (a stand-in) is checked against the sum its release has
if [ "${1:-}" = --check ] || [ "${1:-}" = -c ]; then
  status=0
  while read -r sum file; do
    release="$(tail -n 1 "$file" 2>/dev/null | sed -n 's/^# cleanroom-download sha256=//p')"
    if [ -n "$release" ]; then
      [ "$sum" = "$release" ] || { echo "$file: FAILED" >&2; status=1; }
    else
      echo "$sum  $file" | "$CLEANROOM_SHA256SUM" "$@" || status=1
    fi
  done
  exit "$status"
fi
exec "$CLEANROOM_SHA256SUM" "$@"
"""

ASSERTED = """#!/usr/bin/env bash
# a stage call that needs a cluster: recorded, not run, once the commands it runs are there
needs=""
case "$1" in --needs=*) needs="${1#--needs=}"; shift ;; esac
for tool in ${needs//,/ }; do
  [ -x ".tools/bin/$tool" ] || command -v "$tool" >/dev/null ||
    { echo "cleanroom: \\`$tool\\` not found (\\`$*\\` runs it)" >&2; exit 127; }
done
@RECORD@
exit 0
""".replace("@RECORD@", RECORD)

CURL = f"""#!/usr/bin/env bash
# downloads are recorded; kubectl's (dl.k8s.io) is served from this machine, k3d's release
# as its stand-in; any other fails as without network
url=""; out=""; next_out=""
for a in "$@"; do
  if [ -n "$next_out" ]; then out="$a"; next_out=""; continue; fi
  case "$a" in
    http://127.*|https://127.*|http://localhost*|https://localhost*) exec "$CLEANROOM_CURL" "$@" ;;
    http*://*) url="$a" ;;
    -o|--output) next_out=1 ;;
    --*) ;;
    -*o) next_out=1 ;;
  esac
done
[ -n "$url" ] || exec "$CLEANROOM_CURL" "$@"
{RECORD}
case "$url" in
  https://dl.k8s.io/release/*/bin/linux/amd64/kubectl)
    if [ -n "$out" ]; then cp "$CLEANROOM_KUBECTL" "$out"; else cat "$CLEANROOM_KUBECTL"; fi ;;
  https://dl.k8s.io/release/*/bin/linux/amd64/kubectl.sha256)
    sha256sum "$CLEANROOM_KUBECTL" | cut -d' ' -f1 ;;
  https://github.com/k3d-io/k3d/releases/download/*/k3d-linux-amd64)
    exec "$CLEANROOM_PYTHON" -m cleanroom.shims --download "$url" "$out" ;;
  *) echo "cleanroom: no network here: download of $url recorded, not run" >&2; exit 22 ;;
esac
"""

KUBECTL = """#!/usr/bin/env bash
# the image's preinstalled kubectl: reports its version, runs as this machine's kubectl
if [ "$1 $2" = "version --client" ]; then
  printf '{"clientVersion": {"gitVersion": "%s"}}\\n' "$CLEANROOM_IMAGE_KUBECTL"; exit 0
fi
exec "$CLEANROOM_KUBECTL" "$@"
"""

SHIMS = {
    "docker": DOCKER,
    "apt-get": APT_GET,
    "sudo": SUDO,
    "id": ID,
    "sha256sum": SHA256SUM,
    "cleanroom-asserted": ASSERTED,
    "curl": CURL,
    "kubectl": KUBECTL,
    "go": GO,
}


def text(name: str, version: str = "") -> str:
    """The stand-in `name`, reporting `version` where it reports one."""
    template = SHIMS.get(name) or VERSIONED.replace("@VERSION_LINE@", VERSION_LINES[name])
    return template.replace("@VERSION@", version)


def write(folder: Path, stand_ins: dict[str, str]) -> None:
    """The stand-ins (name -> the version they report), executable, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, version in stand_ins.items():
        path = folder / name
        path.write_text(text(name, version))
        path.chmod(0o755)


def recorded(record: Path) -> list[str]:
    return record.read_text().splitlines() if record.is_file() else []


def apt_main(packages: list[str]) -> int:
    """`apt-get install` inside a room: the host's commands of these packages appear."""
    from cleanroom import runners

    image = runners.IMAGES[os.environ["CLEANROOM_IMAGE"]]
    folder = Path(os.environ["CLEANROOM_BIN"])
    unknown = runners.install_packages(folder, packages, image)
    if unknown:
        print(f"E: Unable to locate package {unknown[0]}", file=sys.stderr)
        return 100
    return 0


DOWNLOADS = {  # release URL prefix -> (stand-in, checksum name) of what it downloads
    "https://github.com/k3d-io/k3d/releases/download/": ("k3d", "k3d-{version}-linux-amd64"),
}


def download_main(url: str, out: str) -> int:
    """A pinned release download: its stand-in, carrying the sum its checksums entry names
    (the real asset is not here; a missing entry fails the job's check as a wrong one would)."""
    prefix = next(p for p in DOWNLOADS if url.startswith(p))
    tool, sum_name = DOWNLOADS[prefix]
    version = url.removeprefix(prefix).split("/")[0]
    checksums = Path(os.environ["CLEANROOM_CHECKSUMS"])
    entries = checksums.read_text().splitlines() if checksums.is_file() else []
    wanted = sum_name.format(version=version)
    release = next((e.split()[0] for e in entries if e.split()[1:] == [wanted]), "none")
    content = text(tool, version) + f"# cleanroom-download sha256={release}\n"
    if out:
        Path(out).write_text(content)
    else:
        sys.stdout.write(content)
    return 0


if __name__ == "__main__" and sys.argv[1:2] == ["--apt"]:
    sys.exit(apt_main(sys.argv[2:]))
if __name__ == "__main__" and sys.argv[1:2] == ["--download"]:
    sys.exit(download_main(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else ""))
