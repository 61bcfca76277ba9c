defmodule ApiWeb.MetricsController do
  use ApiWeb, :controller

  def index(conn, _params) do
    conn
    |> put_resp_content_type("text/plain; version=0.0.4")
    |> send_resp(200, ApiWeb.Telemetry.scrape())
  end
end
