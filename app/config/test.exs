import Config

# DATABASE_URL / REDIS_URL let `nox -s phoenix-tests` point the suite at its containers.
# MIX_TEST_PARTITION keeps parallel CI partitions on separate databases.
config :api, Api.Repo,
  url:
    System.get_env(
      "DATABASE_URL",
      "ecto://postgres:postgres@localhost/api_test#{System.get_env("MIX_TEST_PARTITION")}"
    ),
  pool: Ecto.Adapters.SQL.Sandbox,
  pool_size: System.schedulers_online() * 2

config :api, ApiWeb.Endpoint,
  http: [ip: {127, 0, 0, 1}, port: 4002],
  server: false

config :api, Api.Cache, url: System.get_env("REDIS_URL", "redis://localhost:6379")

config :logger, level: :warning

config :phoenix, :plug_init_mode, :runtime
