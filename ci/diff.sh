#!/usr/bin/env bash
# Stage review (pull requests): the offline manifest diff against the target branch, in the
# log and, on GitHub, as the job's step summary. Changes are reported, not failures.
# shellcheck source=_lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/_lib.sh"
setup
base="origin/${GITHUB_BASE_REF:-${BITBUCKET_PR_DESTINATION_BRANCH:-main}}"
exec invoke manifests.diff --base="$base" --head=HEAD --step-summary --exit-zero
