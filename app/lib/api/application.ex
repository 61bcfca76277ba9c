defmodule Api.Application do
  @moduledoc false

  use Application

  @impl true
  def start(_type, _args) do
    children = [
      # first, so its handlers are attached before the repo and endpoint emit events
      ApiWeb.Telemetry,
      Api.Repo,
      Api.Cache,
      ApiWeb.Endpoint
    ]

    Supervisor.start_link(children, strategy: :one_for_one, name: Api.Supervisor)
  end

  @impl true
  def config_change(changed, _new, removed) do
    ApiWeb.Endpoint.config_change(changed, removed)
    :ok
  end
end
