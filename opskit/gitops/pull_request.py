"""The pull request of a promotion to a protected overlay: its Markdown body (with the JSON
payload Bitbucket's REST API takes) and the one command that opens it on the host of the
remote, GitHub (`gh pr create`) or Bitbucket Cloud (a curl to its 2.0 API, which has no
official CLI). The Bitbucket token is read from the environment by the shell that runs the
command: it is never written or printed.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from opskit.core import shell
from opskit.core.errors import OpsError

if TYPE_CHECKING:
    from opskit.core.config import Config
    from opskit.gitops.promote import Promotion

TOKEN_VARIABLE = "BITBUCKET_TOKEN"
BITBUCKET_API = "https://api.bitbucket.org/2.0/repositories"
HOSTS = {  # host of a clone URL -> who serves it
    "github.com": "github",
    "ssh.github.com": "github",  # ssh over port 443
    "bitbucket.org": "bitbucket",
    "altssh.bitbucket.org": "bitbucket",  # ssh over port 443
}
SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")  # git@host:ws/repo


@dataclass(frozen=True)
class Remote:
    """A repository on GitHub (owner/name) or Bitbucket Cloud (workspace/repo_slug)."""

    host: str  # github | bitbucket
    owner: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


def _redacted(url: str) -> str:
    """The URL without the credentials an https remote may carry."""
    return re.sub(r"^([a-z+]+://)[^@/]*@", r"\1", url)


def parse_remote(url: str, remote: str = "origin") -> Remote:
    """GitHub's or Bitbucket's owner and repository from a clone URL (https, ssh:// or
    scp-like `git@host:owner/repo.git`); one line for any other."""
    if "://" in url:
        parts = urlsplit(url)
        host, path = (parts.hostname or "").lower(), parts.path
    elif match := SCP_LIKE.match(url):
        host, path = match["host"].lower(), match["path"]
    else:
        host, path = "", url
    segments = [s for s in path.removesuffix("/").removesuffix(".git").split("/") if s]
    if host not in HOSTS or len(segments) != 2:
        raise OpsError(
            f"remote {remote} is {_redacted(url) or 'not set'}: not a GitHub or Bitbucket "
            "repository, so there is no pull-request command to print",
            f"point it at one (`git remote set-url {remote} git@github.com:<owner>/<repo>.git` "
            "or `git@bitbucket.org:<workspace>/<repo>.git`), or promote without a protected "
            "target",
        )
    return Remote(HOSTS[host], segments[0], segments[1])


def remote_of(root: Path, remote: str = "origin") -> Remote:
    """The repository `remote` names in the clone's configuration (as written: a local
    `url.<base>.insteadOf` rewrite does not change where the pull request is opened)."""
    url = shell.run(
        ["git", "-C", str(root), "config", "--get", f"remote.{remote}.url"],
        check=False,
        timeout=30,
    ).stdout.strip()
    return parse_remote(url, remote)


def command(remote: Remote, promotion: Promotion, base: str, body: Path) -> str:
    """The shell command that opens the pull request of `promotion` into `base`."""
    if remote.host == "github":
        return shlex.join(
            [
                *("gh", "pr", "create", "--repo", remote.full_name, "--base", base),
                *("--head", promotion.branch, "--title", promotion.subject),
                *("--body-file", str(body)),
            ]
        )
    url = f"{BITBUCKET_API}/{remote.full_name}/pullrequests"
    # double quotes: the shell that runs it expands the token; the command never holds it
    auth = f'"Authorization: Bearer ${TOKEN_VARIABLE}"'
    rest = shlex.join(
        ["-H", "Content-Type: application/json", "--data", f"@{payload_path(body)}", url]
    )
    return f"curl -sSf -X POST -H {auth} {rest}"


def payload_path(body: Path) -> Path:
    return body.with_suffix(".bitbucket.json")


def write_body(cfg: Config, promotion: Promotion, markdown: str) -> Path:
    """The PR body (and Bitbucket's JSON payload) under .git, out of the working tree."""
    git_dir = shell.run(
        ["git", "-C", str(cfg.root), "rev-parse", "--absolute-git-dir"], timeout=30
    ).stdout.strip()
    folder = Path(git_dir) / "opskit"
    folder.mkdir(exist_ok=True)
    body = folder / f"{promotion.branch.replace('/', '-')}.md"
    text = f"{promotion.message}\n\n{markdown}"
    body.write_text(text)
    payload = {
        "title": promotion.subject,
        "description": text,
        "source": {"branch": {"name": promotion.branch}},
        "destination": {"branch": {"name": cfg.project.revision}},
    }
    payload_path(body).write_text(json.dumps(payload, indent=1))
    return body
