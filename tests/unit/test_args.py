"""The flag and config value parsers: what each accepts, and the one line for the rest."""

import pytest

from opskit.core import args
from opskit.core.errors import OpsError


@pytest.mark.parametrize(
    ("parse", "raw", "value"),
    [
        (args.seconds, "300", 300.0),
        (args.seconds, "0.5", 0.5),
        (args.seconds, 20, 20.0),
        (args.positive_int, "3", 3),
        (args.port, "65535", 65535),
        (args.port_or_free, 0, 0),
        (args.revision, "2", 2),
        (args.revision, None, None),
        (args.k8s_name, "api-secrets", "api-secrets"),
        (args.k8s_name, "db.credentials", "db.credentials"),
        (args.dns_label, "gitops-lab", "gitops-lab"),
        (args.image_tag, "0123456789ab", "0123456789ab"),
        (args.words, "test/x --seed 0", ("test/x", "--seed", "0")),
    ],
)
def test_good_values_parse(parse, raw, value):
    assert parse(raw, "--x") == value


@pytest.mark.parametrize(
    ("parse", "raw", "message"),
    [
        (
            args.seconds,
            "abc",
            "--x: 'abc' is not allowed; use seconds, a number above 0 and at most 86400",
        ),
        (args.seconds, "-1", "--x: '-1' is not allowed; use seconds, a number above 0"),
        (args.seconds, "0", "--x: '0' is not allowed"),
        (args.seconds, "nan", "--x: 'nan' is not allowed"),
        (args.seconds, "90000", "--x: '90000' is not allowed"),
        (args.positive_int, "1.5", "--x: '1.5' is not allowed; use an integer of at least 1"),
        (args.positive_int, True, "--x: 'True' is not allowed"),
        (args.port, "70000", "--x: '70000' is not allowed; use an integer from 1 to 65535"),
        (args.port, 0, "--x: '0' is not allowed; use an integer from 1 to 65535"),
        (args.port_or_free, -1, "--x: '-1' is not allowed; use an integer from 0 to 65535"),
        (args.revision, "0", "--x: '0' is not allowed; use an integer of at least 1"),
        (args.revision, "", "--x: '' is not allowed"),
        (args.k8s_name, "../prod/x", "--x: '../prod/x' is not a valid name; use at most 253"),
        (args.k8s_name, "a" * 254, "is not a valid name"),
        (args.dns_label, "a.b", "--x: 'a.b' is not a valid name; use at most 63"),
        (args.image_tag, "latest", "--x: 'latest' is not an image tag"),
        (args.words, "'open", '--x: "\'open": No closing quotation; balance the quotes'),
    ],
)
def test_bad_values_are_one_line_naming_the_flag(parse, raw, message):
    with pytest.raises(OpsError) as info:
        parse(raw, "--x")
    assert "\n" not in str(info.value)
    assert message in str(info.value)


def test_bounded_builds_a_range_parser():
    tag_length = args.bounded(7, 40)
    assert tag_length(12, "app.tag_length") == 12
    with pytest.raises(
        OpsError, match=r"app.tag_length: '41' is not allowed; use an integer from 7 to 40"
    ):
        tag_length(41, "app.tag_length")
