"""`python -m bench` flags: the opt-in default-polling figure, bad input in one line."""

import sys
from pathlib import Path

import pytest
import sh

from bench.__main__ import DEFAULT_POLL_SAMPLES, parse


@pytest.mark.parametrize(
    ("argv", "samples"),
    [
        ([], 0),
        (["--default-poll"], DEFAULT_POLL_SAMPLES),
        (["--default-poll=3"], 3),
        (["--only", "gitops", "--default-poll", "7"], 7),
    ],
)
def test_default_poll_is_opt_in_with_a_sample_count(argv, samples):
    assert parse(argv).default_poll == samples


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--default-poll=0"], "argument --default-poll: '0' is not a number of samples"),
        (["--default-poll=x"], "argument --default-poll: 'x' is not a number of samples"),
        (["--only", "deploy", "--default-poll"], "--default-poll measures in the gitops"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(argv, message):
    root = Path(__file__).resolve().parents[2]
    done = sh.Command(sys.executable)(
        "-m", "bench", *argv, _cwd=str(root), _ok_code=[1], _return_cmd=True, _timeout=60
    )
    stderr = done.stderr.decode()
    assert done.stdout.decode() == "" and len(stderr.splitlines()) == 1
    assert stderr.startswith(f"python -m bench: error: {message}")
