defmodule Api.Release do
  @moduledoc """
  Tasks run from the release, where Mix is absent:

      bin/api eval "Api.Release.migrate()"        # what bin/migrate does
      bin/api eval "Api.Release.rollback(Api.Repo, 20240101000000)"
  """

  @app :api

  def migrate do
    load_app()

    for repo <- repos() do
      {:ok, _, _} = Ecto.Migrator.with_repo(repo, &Ecto.Migrator.run(&1, :up, all: true))
    end

    :ok
  end

  def rollback(repo, version) do
    load_app()
    {:ok, _, _} = Ecto.Migrator.with_repo(repo, &Ecto.Migrator.run(&1, :down, to: version))
    :ok
  end

  defp repos, do: Application.fetch_env!(@app, :ecto_repos)

  defp load_app do
    # the repo's SSL options may need :ssl, which `eval` does not start
    Application.ensure_all_started(:ssl)
    Application.load(@app)
  end
end
