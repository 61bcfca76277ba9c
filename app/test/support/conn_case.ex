defmodule ApiWeb.ConnCase do
  @moduledoc "Tests that call the endpoint, with the database sandboxed."

  use ExUnit.CaseTemplate

  using do
    quote do
      @endpoint ApiWeb.Endpoint

      import Plug.Conn
      import Phoenix.ConnTest
      import Api.DataCase, only: [item_fixture: 0, item_fixture: 1]
      import ApiWeb.ConnCase
    end
  end

  setup tags do
    Api.DataCase.setup_sandbox(tags)
    conn = Phoenix.ConnTest.build_conn() |> Plug.Conn.put_req_header("accept", "application/json")
    {:ok, conn: conn}
  end

  @doc "Stops the Redis connection for the rest of the test, as if Redis were down."
  def stop_redis do
    :ok = Supervisor.terminate_child(Api.Supervisor, Api.Cache)
    ExUnit.Callbacks.on_exit(&restart_redis/0)
  end

  defp restart_redis do
    {:ok, _pid} = Supervisor.restart_child(Api.Supervisor, Api.Cache)
    # for the tests that follow
    Api.DataCase.redis_ready?()
  end
end
