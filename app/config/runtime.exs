# Read when the release (or `mix`) starts, so one image serves every environment.
import Config

if System.get_env("PHX_SERVER") do
  config :api, ApiWeb.Endpoint, server: true
end

# The manifests' switch: the base sets CACHE_ENABLED=false, the redis-cache component
# (which also sets REDIS_URL) turns it on. Unset means on.
case System.get_env("CACHE_ENABLED") do
  nil -> :ok
  value when value in ~w(true 1) -> config :api, Api.Cache, enabled: true
  value when value in ~w(false 0) -> config :api, Api.Cache, enabled: false
  value -> raise "CACHE_ENABLED must be true or false, got #{inspect(value)}"
end

if config_env() == :prod do
  database_url =
    System.get_env("DATABASE_URL") ||
      raise """
      environment variable DATABASE_URL is missing.
      For example: ecto://USER:PASS@HOST/DATABASE
      """

  secret_key_base =
    System.get_env("SECRET_KEY_BASE") ||
      raise """
      environment variable SECRET_KEY_BASE is missing.
      You can generate one by calling: mix phx.gen.secret
      """

  config :api, Api.Repo,
    url: database_url,
    pool_size: String.to_integer(System.get_env("POOL_SIZE", "10")),
    socket_options: if(System.get_env("ECTO_IPV6") in ~w(true 1), do: [:inet6], else: [])

  config :api, Api.Cache, url: System.get_env("REDIS_URL", "redis://localhost:6379")

  config :api, ApiWeb.Endpoint,
    url: [host: System.get_env("PHX_HOST", "localhost"), port: 443, scheme: "https"],
    http: [ip: {0, 0, 0, 0}, port: String.to_integer(System.get_env("PORT", "4000"))],
    secret_key_base: secret_key_base
end
