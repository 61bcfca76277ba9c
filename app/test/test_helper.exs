# Cache tests need Redis. When REDIS_URL is set (CI, `nox -s phoenix-tests`) Redis must
# be up; without it, a missing local Redis skips them with a note instead of failing.
redis_up? = Api.DataCase.redis_ready?()

exclude =
  cond do
    redis_up? ->
      []

    System.get_env("REDIS_URL") ->
      raise "REDIS_URL is set but Redis does not answer: #{inspect(Api.Cache.ping())}"

    true ->
      IO.puts("Redis does not answer: skipping the tests tagged :redis (start redis-server)")
      [:redis]
  end

ExUnit.start(exclude: exclude)
Ecto.Adapters.SQL.Sandbox.mode(Api.Repo, :manual)
