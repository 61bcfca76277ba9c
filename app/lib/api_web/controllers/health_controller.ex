defmodule ApiWeb.HealthController do
  use ApiWeb, :controller

  @doc "Liveness: the VM answers. Never touches PostgreSQL or Redis."
  def health(conn, _params), do: json(conn, %{status: "ok"})

  @doc "Readiness: 200 when PostgreSQL answers (Redis down = degraded), else 503."
  def ready(conn, _params) do
    {status, checks} = Api.Health.readiness()
    code = if status == :unavailable, do: :service_unavailable, else: :ok

    conn
    |> put_status(code)
    |> json(%{status: status, checks: Map.new(checks, &describe/1)})
  end

  defp describe({name, :ok}), do: {name, %{status: "ok"}}
  defp describe({name, :disabled}), do: {name, %{status: "disabled"}}
  defp describe({name, {:error, reason}}), do: {name, %{status: "error", error: reason}}
end
