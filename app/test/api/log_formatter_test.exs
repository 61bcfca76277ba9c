defmodule Api.LogFormatterTest do
  use ExUnit.Case, async: true

  alias Api.LogFormatter

  test "writes one JSON object per line with time, level, message and metadata" do
    line =
      LogFormatter.format(:info, ["hello ", "world"], {{2025, 1, 2}, {3, 4, 5, 6}},
        request_id: "abc",
        pid: self(),
        count: 2
      )
      |> IO.iodata_to_binary()

    assert String.ends_with?(line, "\n")

    assert %{
             "time" => "2025-01-02T03:04:05.006Z",
             "level" => "info",
             "message" => "hello world",
             "request_id" => "abc",
             "count" => 2,
             "pid" => "#PID<" <> _
           } = Jason.decode!(line)
  end

  test "never raises on a message it cannot encode" do
    line = LogFormatter.format(:error, <<0xFF>>, {{2025, 1, 2}, {3, 4, 5, 6}}, [])
    assert IO.iodata_to_binary(line) =~ "could not format log entry"
  end
end
