"""`python -m cleanroom`: run every CI job in a clean room (see cleanroom.jobs.main)."""

import sys

from cleanroom.jobs import main

sys.exit(main(sys.argv[1:]))
