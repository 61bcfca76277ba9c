defmodule ApiWeb.Endpoint do
  use Phoenix.Endpoint, otp_app: :api

  plug Plug.RequestId
  plug Plug.Telemetry, event_prefix: [:phoenix, :endpoint], log: {__MODULE__, :log_level, []}

  plug Plug.Parsers,
    parsers: [:json],
    pass: ["application/json"],
    json_decoder: Phoenix.json_library()

  plug Plug.Head
  plug ApiWeb.Router

  @doc false
  # Probes and scrapes arrive every few seconds: keep them out of the logs.
  def log_level(%{path_info: ["api", probe]}) when probe in ["health", "ready"], do: false
  def log_level(%{path_info: ["metrics"]}), do: false
  def log_level(_conn), do: :info
end
