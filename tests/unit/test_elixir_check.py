"""The Elixir parse + format check, with the real `elixir` (Debian's package)."""

import shutil

import pytest

from opskit.core.errors import CommandFailed
from opskit.lint import elixir
from tests import fakes

pytestmark = pytest.mark.tools("elixir")

SCHEMA = """\
defmodule Shop.Part do
  use Ecto.Schema

  schema "parts" do
    field :name, :string
  end
end
"""


@pytest.fixture
def app(tmp_path, root):
    """A copy of app/ (sources only) to plant mistakes in."""
    shutil.copytree(root / "app", tmp_path / "app", ignore=shutil.ignore_patterns("_build", "deps"))
    return tmp_path / "app"


def check(app):
    return elixir.check(elixir.sources(app), cwd=app.parent)


def test_the_app_parses_and_is_formatted(root):
    files = elixir.sources(root / "app")
    assert len(files) > 20
    assert elixir.check(files, cwd=root) == []


def test_planted_syntax_error_is_reported_with_file_and_line(app):
    (app / "lib" / "broken.ex").write_text("defmodule Broken do\n  def x(, do: 1\nend\n")
    problems = check(app)
    assert len(problems) == 1
    assert problems[0].startswith("app/lib/broken.ex:3:1: syntax error: ")
    assert '"(" at line 2 is missing terminator ")"' in problems[0]


def test_unterminated_block_is_a_syntax_error(app):
    (app / "test" / "open_test.exs").write_text("defmodule OpenTest do\n  def x do\n")
    assert check(app) == [
        'app/test/open_test.exs:3:1: syntax error: missing terminator: end (for "do" starting '
        "at line 2)"
    ]


def test_unformatted_files_are_listed(app):
    (app / "lib" / "ugly.ex").write_text("defmodule  Ugly do\ndef x,do: 1\nend\n")
    (app / "config" / "extra.exs").write_text("import Config\nconfig :api,  key: 1\n")
    assert check(app) == [
        "app/config/extra.exs: not formatted (run `mix format`)",
        "app/lib/ugly.ex: not formatted (run `mix format`)",
    ]


def test_dsl_calls_follow_the_nearest_formatter_exs(app, tmp_path):
    # app/.formatter.exs lists `field` without parens; with no .formatter.exs it needs them
    inside, outside = app / "lib" / "part.ex", tmp_path / "part.ex"
    inside.write_text(SCHEMA)
    outside.write_text(SCHEMA)
    assert elixir.check([inside, outside], cwd=tmp_path) == [
        "part.ex: not formatted (run `mix format`)"
    ]


def test_only_elixir_sources_are_checked(app):
    (app / "deps" / "dep" / "lib").mkdir(parents=True)
    (app / "deps" / "dep" / "lib" / "bad.ex").write_text("not elixir (")
    (app / "_build" / "x.ex").parent.mkdir()
    (app / "_build" / "x.ex").write_text("not elixir (")
    assert not [f for f in elixir.sources(app) if "deps" in f.parts or "_build" in f.parts]
    with fakes.recorder({"elixir": (1, "", "must not run")}) as calls:
        assert elixir.check([app / "Dockerfile", app / "rel" / "overlays" / "bin" / "server"]) == []
    assert calls == []


def test_a_broken_formatter_exs_is_a_command_failure(app):
    (app / ".formatter.exs").write_text('raise "no formatter today"\n')
    with pytest.raises(CommandFailed) as info:
        check(app)
    assert "no formatter today" in info.value.stderr_tail
    assert info.value.argv == ("elixir", "-e", "<opskit.lint.elixir script>")
