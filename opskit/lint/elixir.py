"""Every Elixir source parses and is `mix format`-clean, checked with plain `elixir`.

No Mix project is loaded and no dependency fetched (hex may be unreachable): one `elixir`
process parses each file with `Code.string_to_quoted/2` and formats it with
`Code.format_string!/2` under the options of its nearest `.formatter.exs`, exactly as
`mix format --check-formatted` would (that is why app/.formatter.exs lists the DSL calls
itself instead of using `import_deps`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from opskit.core import paths, shell
from opskit.core.errors import CommandFailed

SUFFIXES = (".ex", ".exs")
SKIPPED_DIRS = frozenset({"_build", "deps", ".elixir_ls", "cover", "node_modules"})
PROBLEMS_FOUND = 2  # the script's exit code when it printed problems; 1 means it crashed

# stdin: one "<formatter file or empty>\t<source file>" line per file.
# stdout: one problem per line, "<file>:<line>:<column>: syntax error: ..." or
# "<file>: not formatted (run `mix format`)".
SCRIPT = r"""
drop = [:inputs, :import_deps, :subdirectories, :plugins, :export]
options = fn
  "" -> []
  formatter -> formatter |> Code.eval_file() |> elem(0) |> Keyword.drop(drop)
end

one_line = fn text -> text |> String.split("\n", trim: true) |> Enum.join(" ") end

describe = fn
  {location, {prefix, suffix}, token} -> {location, prefix <> token <> suffix}
  {location, message, token} -> {location, message <> token}
end

check = fn file, opts ->
  source = File.read!(file)

  case Code.string_to_quoted(source, file: file, columns: true) do
    {:error, error} ->
      {location, message} = describe.(error)
      place = if is_list(location), do: [location[:line], location[:column]], else: [location]
      at = Enum.join(Enum.reject([file | place], &is_nil/1), ":")
      ["#{at}: syntax error: #{one_line.(message)}"]

    {:ok, _ast} ->
      formatted = IO.iodata_to_binary([Code.format_string!(source, [file: file] ++ opts), ?\n])
      clean? = formatted == source or String.trim(source) == ""
      if clean?, do: [], else: ["#{file}: not formatted (run `mix format`)"]
  end
end

problems =
  :stdio
  |> IO.read(:eof)
  |> String.split("\n", trim: true)
  |> Enum.map(&String.split(&1, "\t", parts: 2))
  |> Enum.group_by(&hd/1, &List.last/1)
  |> Enum.flat_map(fn {formatter, files} ->
    opts = options.(formatter)
    Enum.flat_map(files, &check.(&1, opts))
  end)

Enum.each(problems, &IO.puts/1)
System.halt(if problems == [], do: 0, else: 2)
"""


def sources(folder: Path) -> list[Path]:
    """The .ex/.exs files under `folder`, skipping dependencies and build output."""
    found = []
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        found += [Path(current) / f for f in sorted(files) if f.endswith(SUFFIXES)]
    return found


def check(files: Iterable[Path], *, cwd: Path | None = None) -> list[str]:
    """Problems of the given files (others than .ex/.exs are ignored): [] when all are clean.

    Paths in the problems are relative to `cwd` (default: the project root) when inside it.
    """
    base = (cwd or paths.root()).resolve()
    chosen = sorted({Path(f).resolve() for f in files if str(f).endswith(SUFFIXES)})
    if not chosen:
        return []
    listing = "".join(f"{_formatter_of(f, base)}\t{_shown(f, base)}\n" for f in chosen)
    result = shell.run(
        ["elixir", "-e", SCRIPT],
        stdin=listing,
        cwd=str(base),
        timeout=180,
        check=False,
        hint="is the Elixir install complete? (`elixir --version`)",
    )
    if result.returncode not in (0, PROBLEMS_FOUND):
        tail = "\n".join(result.stderr.strip().splitlines()[-shell.STDERR_TAIL_LINES :])
        raise CommandFailed(
            tool="elixir",
            argv=("elixir", "-e", "<opskit.lint.elixir script>"),
            returncode=result.returncode,
            stderr_tail=shell.redact(tail),
            hint="a .formatter.exs that does not evaluate? (see the error above)",
        )
    return result.stdout.splitlines()


def _formatter_of(file: Path, base: Path) -> str:
    """The nearest .formatter.exs above `file` (not above `base`), or "" for defaults."""
    for folder in file.parents:
        if (folder / ".formatter.exs").is_file():
            return _shown(folder / ".formatter.exs", base)
        if folder == base:
            break
    return ""


def _shown(path: Path, base: Path) -> str:
    return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)
