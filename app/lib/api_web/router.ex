defmodule ApiWeb.Router do
  use ApiWeb, :router

  pipeline :api do
    plug :accepts, ["json"]
  end

  scope "/api", ApiWeb do
    pipe_through :api

    get "/health", HealthController, :health
    get "/ready", HealthController, :ready
    resources "/items", ItemController, except: [:new, :edit]
  end

  # Outside the :api pipeline: Prometheus asks for text, not JSON.
  get "/metrics", ApiWeb.MetricsController, :index
end
