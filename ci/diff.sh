#!/usr/bin/env bash
# Stage review (pull requests): the offline manifest diff against the target branch, in the
# log and, on GitHub, as the job's step summary. Changes are reported, not failures.
# shellcheck source=_lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/_lib.sh"
setup
branch="${GITHUB_BASE_REF:-${BITBUCKET_PR_DESTINATION_BRANCH:-main}}"
# a pull-request clone may hold only its own branch (Bitbucket clones one): fetch the target
git fetch --quiet origin "+refs/heads/$branch:refs/remotes/origin/$branch"
exec invoke manifests.diff --base="origin/$branch" --head=HEAD --step-summary --exit-zero
