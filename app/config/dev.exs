import Config

config :api, Api.Repo,
  url: System.get_env("DATABASE_URL", "ecto://postgres:postgres@localhost/api_dev"),
  show_sensitive_data_on_connection_error: true,
  pool_size: 10

config :api, ApiWeb.Endpoint,
  http: [ip: {127, 0, 0, 1}, port: 4000],
  check_origin: false,
  code_reloader: false,
  debug_errors: true

config :api, Api.Cache, url: System.get_env("REDIS_URL", "redis://localhost:6379")

config :phoenix, :stacktrace_depth, 20
config :phoenix, :plug_init_mode, :runtime
