"""One YAML reader for every file the suite reads: duplicate keys refused, errors one line."""

import json
import re
from pathlib import Path

import pytest

from opskit.core import yamlio
from opskit.core.errors import OpsError

OPSKIT = Path(__file__).resolve().parents[2] / "opskit"


def _error(call, *a) -> str:
    with pytest.raises(OpsError) as info:
        call(*a)
    text = str(info.value)
    assert "\n" not in text
    return text


def test_duplicate_key_is_refused_with_its_line(tmp_path):
    file = tmp_path / "k.yaml"
    file.write_text("a: 1\nb:\n  c: 2\n  c: 3\n")
    assert _error(yamlio.load_file, file) == (
        f"{file}: line 4: duplicate key 'c' (first on line 3); "
        "keep one of them (YAML keeps only the last, silently)"
    )


def test_duplicate_key_in_any_document_of_a_stream(tmp_path):
    file = tmp_path / "all.yaml"
    file.write_text("kind: A\n---\nkind: B\nkind: C\n")
    assert "line 4: duplicate key 'kind'" in _error(yamlio.load_file_all, file)


def test_merge_keys_may_be_overridden():
    data = yamlio.load("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  x: 9\n", "t")
    assert data["other"] == {"x": 9, "y": 2}


def test_syntax_error_names_line_and_not_the_text(tmp_path):
    file = tmp_path / "s.sops.yaml"
    file.write_text("password: hunter2\n  bad: [\n")
    text = _error(yamlio.load_file, file)
    assert text.startswith(f"{file}: line 2: invalid YAML (")
    assert "hunter2" not in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00binary", "not UTF-8 text"),
        (None, "Is a directory"),
    ],
)
def test_unreadable_file_is_one_line_naming_it(tmp_path, content, message):
    file = tmp_path / "x.yaml"
    if content is None:
        file.mkdir()
    else:
        file.write_bytes(content)
    text = _error(yamlio.load_file, file)
    assert text.startswith(f"{file}: ") and message in text


def test_json_file_errors_name_the_path(tmp_path):
    file = tmp_path / "stamp.json"
    file.write_text('{"tools": ')
    assert _error(yamlio.load_json_file, file).startswith(f"{file}: line 1: invalid JSON (")
    file.write_text('{"a": 1, "a": 2}')
    assert "duplicate key 'a'" in _error(yamlio.load_json_file, file)


def test_a_broken_cache_is_ignored_with_a_line(tmp_path, capsys):
    file = tmp_path / "cache.json"
    file.write_text("{not json")
    assert yamlio.read_cache(file, json.loads) is None
    assert capsys.readouterr().err == (
        f"opskit: ignoring the unreadable cache {file} (it is rebuilt)\n"
    )
    assert yamlio.read_cache(tmp_path / "absent.json", json.loads) is None
    assert capsys.readouterr().err == ""


def test_no_module_parses_yaml_or_json_files_on_its_own():
    """Every read of YAML or of a JSON file goes through opskit.yamlio."""
    pattern = re.compile(r"yaml\.(safe_)?load(_all)?\(|json\.loads?\(.*read_")
    # the schema definitions ship inside an installed package: no user edits that file
    allowed = {"manifests/validate.py: data = json.loads((schema_folder(version"}
    offenders = [
        f"{path.relative_to(OPSKIT)}: {line.strip()[:40]}"
        for path in OPSKIT.rglob("*.py")
        if path.name != "yamlio.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert sorted(set(offenders) - allowed) == []
