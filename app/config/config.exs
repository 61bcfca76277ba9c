# Compile-time configuration shared by every environment; the environment-specific
# file is imported at the end. Values read from the environment live in runtime.exs.
import Config

config :api,
  ecto_repos: [Api.Repo],
  generators: [timestamp_type: :utc_datetime_usec]

config :api, ApiWeb.Endpoint,
  url: [host: "localhost"],
  adapter: Bandit.PhoenixAdapter,
  render_errors: [formats: [json: ApiWeb.ErrorJSON], layout: false]

# An item is cached for `ttl` seconds; a Redis call gives up after `timeout` ms.
# `enabled: false` (CACHE_ENABLED=false, see runtime.exs) runs without Redis at all.
config :api, Api.Cache, enabled: true, url: "redis://localhost:6379", ttl: 300, timeout: 500

config :phoenix, :json_library, Jason

# Our own poller emits the VM measurements (see ApiWeb.Telemetry).
config :telemetry_poller, :default, false

# One JSON object per line; Elixir 1.15 renamed the console formatter settings.
log_format = [format: {Api.LogFormatter, :format}, metadata: [:request_id]]

if Version.match?(System.version(), ">= 1.15.0") do
  config :logger, :default_formatter, log_format
else
  config :logger, :console, log_format
end

config :logger, utc_log: true

import_config "#{config_env()}.exs"
