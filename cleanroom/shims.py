"""Stand-ins the clean room puts on a job's PATH for what cannot run here.

Each records its argv in $CLEANROOM_RECORD (one line per call) and answers as the real
tool would for the calls CI makes: docker (engine and registry), k3d, helm, apt-get, sudo,
curl (downloads served from this machine; everything else is the real curl), and the
`cleanroom-asserted` stand-in for stage calls that need a cluster.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

RECORD = 'printf "%s\\n" "$(basename "$0") $*" >> "$CLEANROOM_RECORD"'

DOCKER = f"""#!/usr/bin/env bash
{RECORD}
case "$1" in
  --version) echo "Docker version 27.5.1, build cleanroom" ;;
  info) echo "Server Version: 27.5.1 (clean room: engine asserted)" ;;
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

K3D = f"""#!/usr/bin/env bash
{RECORD}
[ "$1" = version ] && printf 'k3d version %s\\nk3s version (default)\\n' "$CLEANROOM_K3D"
exit 0
"""

HELM = f"""#!/usr/bin/env bash
{RECORD}
[ "$1" = version ] && echo "v3.16.4+gcleanroom"
exit 0
"""

APT_GET = f"""#!/usr/bin/env bash
{RECORD}
if [ "$(id -u)" -ne 0 ]; then echo "apt-get: permission denied (use sudo)" >&2; exit 100; fi
[ "$1" = update ] && exit 0
packages=(); for a in "$@"; do case "$a" in -*|install) ;; *) packages+=("$a") ;; esac; done
exec "$CLEANROOM_PYTHON" -m cleanroom.shims --apt "${{packages[@]}}"
"""

SUDO = """#!/usr/bin/env bash
exec "$@"
"""

ASSERTED = f"""#!/usr/bin/env bash
# a stage call that needs a cluster: recorded with its environment facts, not run
{RECORD}
exit 0
"""

CURL = f"""#!/usr/bin/env bash
# downloads from dl.k8s.io are recorded and served from this machine (kubectl stand-in)
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
    "k3d": K3D,
    "helm": HELM,
    "apt-get": APT_GET,
    "sudo": SUDO,
    "cleanroom-asserted": ASSERTED,
    "curl": CURL,
}


def write(folder: Path, names: list[str]) -> None:
    """The named stand-ins, executable, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = folder / name
        path.write_text(SHIMS.get(name, KUBECTL))
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


if __name__ == "__main__" and sys.argv[1:2] == ["--apt"]:
    sys.exit(apt_main(sys.argv[2:]))
