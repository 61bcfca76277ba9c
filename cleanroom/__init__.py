"""The clean room: every GitHub job and Bitbucket step run in a fresh clone with only what
its runner has (`python -m cleanroom`). A tool of this repository, not of the suite's users."""
