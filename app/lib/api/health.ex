defmodule Api.Health do
  @moduledoc """
  Readiness of the dependencies: PostgreSQL is required, Redis is optional.

  Without Redis the API still answers (uncached), so the node stays ready but reports
  itself `degraded`; without PostgreSQL it is not ready. With the cache disabled
  (CACHE_ENABLED=false) Redis is not asked: its check reads `disabled`.
  """

  alias Api.{Cache, Repo}

  @doc "`{status, checks}`: status is `:ok`, `:degraded` or `:unavailable`."
  def readiness do
    checks = %{postgres: check_postgres(), redis: Cache.ping()}

    status =
      case checks do
        %{postgres: :ok, redis: redis} when redis in [:ok, :disabled] -> :ok
        %{postgres: :ok} -> :degraded
        _ -> :unavailable
      end

    {status, checks}
  end

  defp check_postgres do
    case Ecto.Adapters.SQL.query(Repo, "SELECT 1", [], timeout: 2_000) do
      {:ok, _} -> :ok
      {:error, error} -> {:error, Exception.message(error)}
    end
  rescue
    error -> {:error, Exception.message(error)}
  catch
    :exit, reason -> {:error, inspect(reason)}
  end
end
