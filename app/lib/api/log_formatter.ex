defmodule Api.LogFormatter do
  @moduledoc """
  Logger formatter writing one JSON object per line:
  `{"time": ..., "level": ..., "message": ..., <metadata>}`.
  """

  @doc false
  def format(level, message, timestamp, metadata) do
    entry =
      metadata
      |> Map.new(fn {key, value} -> {key, json_value(value)} end)
      |> Map.merge(%{
        time: time(timestamp),
        level: level,
        message: IO.chardata_to_string(message)
      })

    [Jason.encode_to_iodata!(entry), ?\n]
  rescue
    # a log line must never crash the logger
    _ -> ["could not format log entry: ", inspect({level, message, metadata}), ?\n]
  end

  defp time({date, {hour, minute, second, millisecond}}) do
    {date, {hour, minute, second}}
    |> NaiveDateTime.from_erl!({millisecond * 1_000, 3})
    |> NaiveDateTime.to_iso8601()
    |> Kernel.<>("Z")
  end

  defp json_value(nil), do: nil

  defp json_value(value) when is_binary(value) or is_number(value) or is_boolean(value),
    do: value

  defp json_value(value) when is_atom(value), do: Atom.to_string(value)
  defp json_value(value), do: inspect(value)
end
