defmodule Api.Cache do
  @moduledoc """
  A best-effort Redis cache of Erlang terms.

  Every failure (Redis down, slow, or holding garbage) is reported as a miss, never
  raised: callers fall back to the database. Lookups emit `[:api, :cache, :lookup]`
  with `result: :hit | :miss | :error`, counted in /metrics.

  Disabled (`enabled: false`, CACHE_ENABLED=false) it opens no Redis connection: every
  read misses, writes do nothing and `ping/1` answers `:disabled`.
  """

  require Logger

  @conn __MODULE__.Connection

  def child_spec(_opts), do: %{id: __MODULE__, start: {__MODULE__, :start_link, []}}

  @doc "The Redis connection, or `:ignore` (no child) when the cache is disabled."
  def start_link do
    if enabled?() do
      # sync_connect: false lets the app start (and serve uncached) while Redis is away;
      # Redix keeps reconnecting in the background with backoff.
      opts = [name: @conn, sync_connect: false, backoff_max: 5_000]
      Redix.start_link(Keyword.fetch!(config(), :url), opts)
    else
      :ignore
    end
  end

  @doc "Whether the cache is on (config `enabled`, CACHE_ENABLED)."
  def enabled?, do: Keyword.get(config(), :enabled, true)

  @doc "`{:ok, term}` when `key` holds a value, else `:miss`."
  def fetch(key, conn \\ @conn) do
    if enabled?() do
      case command(conn, ["GET", key]) do
        {:ok, nil} -> lookup(:miss)
        {:ok, binary} -> decode(binary)
        {:error, _reason} -> lookup(:error)
      end
    else
      :miss
    end
  end

  @doc "Stores `value` under `key` for the configured TTL; `:ok` or `:error`."
  def put(key, value, conn \\ @conn) do
    if enabled?() do
      binary = :erlang.term_to_binary(value)
      ttl = Integer.to_string(Keyword.fetch!(config(), :ttl))
      ok_or_error(command(conn, ["SET", key, binary, "EX", ttl]))
    else
      :ok
    end
  end

  @doc "Removes `key`; `:ok` or `:error`."
  def delete(key, conn \\ @conn) do
    if enabled?(), do: ok_or_error(command(conn, ["DEL", key])), else: :ok
  end

  @doc """
  `:ok` when Redis answers, `{:error, reason}` otherwise, `:disabled` when the cache is
  off (for readiness).
  """
  def ping(conn \\ @conn) do
    if enabled?() do
      case command(conn, ["PING"]) do
        {:ok, "PONG"} -> :ok
        {:ok, other} -> {:error, "unexpected reply #{inspect(other)}"}
        {:error, reason} -> {:error, describe(reason)}
      end
    else
      :disabled
    end
  end

  defp command(conn, args) do
    Redix.command(conn, args, timeout: Keyword.fetch!(config(), :timeout))
  catch
    # the connection process is gone (e.g. restarting): same as Redis being down
    :exit, reason -> {:error, reason}
  end

  defp decode(binary) do
    lookup(:hit, {:ok, :erlang.binary_to_term(binary, [:safe])})
  rescue
    ArgumentError -> lookup(:error)
  end

  defp lookup(result, reply \\ :miss) do
    :telemetry.execute([:api, :cache, :lookup], %{count: 1}, %{result: result})
    reply
  end

  defp ok_or_error({:ok, _}), do: :ok

  defp ok_or_error({:error, reason}) do
    Logger.debug("cache write failed: #{describe(reason)}")
    :error
  end

  defp describe(%{__exception__: true} = error), do: Exception.message(error)
  defp describe(reason), do: inspect(reason)

  defp config, do: Application.fetch_env!(:api, __MODULE__)
end
