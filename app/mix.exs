defmodule Api.MixProject do
  use Mix.Project

  def project do
    [
      app: :api,
      version: "0.1.0",
      elixir: "~> 1.14",
      elixirc_paths: elixirc_paths(Mix.env()),
      start_permanent: Mix.env() == :prod,
      aliases: aliases(),
      deps: deps(),
      releases: [api: [include_executables_for: [:unix]]]
    ]
  end

  def application do
    [
      mod: {Api.Application, []},
      extra_applications: [:logger, :runtime_tools]
    ]
  end

  defp elixirc_paths(:test), do: ["lib", "test/support"]
  defp elixirc_paths(_), do: ["lib"]

  # Exact pins, transitive dependencies included: hex is the only source of a mix.lock,
  # so these make a fresh `mix deps.get` resolve the set that was compiled and tested
  # together on Elixir 1.14 / OTP 25 (several newer releases require Elixir 1.15).
  defp deps do
    [
      {:phoenix, "== 1.7.24"},
      {:bandit, "== 1.11.1"},
      {:jason, "== 1.4.5"},
      {:ecto_sql, "== 3.13.5"},
      {:postgrex, "== 0.21.1"},
      {:redix, "== 1.5.3"},
      {:telemetry_metrics, "== 1.1.0"},
      {:telemetry_poller, "== 1.3.0"},
      {:telemetry_metrics_prometheus_core, "== 1.2.1"},
      # transitive
      {:castore, "== 1.0.19"},
      {:db_connection, "== 2.10.2"},
      {:decimal, "== 2.4.1"},
      {:ecto, "== 3.13.6"},
      {:hpax, "== 1.0.3"},
      {:mime, "== 2.0.7"},
      {:nimble_options, "== 1.1.1"},
      {:phoenix_pubsub, "== 2.2.0"},
      {:phoenix_template, "== 1.0.4"},
      {:plug, "== 1.19.2"},
      {:plug_crypto, "== 2.1.1"},
      {:telemetry, "== 1.4.1"},
      {:thousand_island, "== 1.5.0"},
      {:websock, "== 0.5.3"},
      {:websock_adapter, "== 0.5.9"}
    ]
  end

  defp aliases do
    [
      setup: ["deps.get", "ecto.setup"],
      "ecto.setup": ["ecto.create", "ecto.migrate"],
      "ecto.reset": ["ecto.drop", "ecto.setup"],
      test: ["ecto.create --quiet", "ecto.migrate --quiet", "test"]
    ]
  end
end
