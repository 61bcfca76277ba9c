defmodule Api.CacheDisabledTest do
  # not async: the cache switch is application-wide
  use ApiWeb.ConnCase, async: false

  alias Api.{Cache, Health, Items}

  setup do
    config = Application.fetch_env!(:api, Cache)
    Application.put_env(:api, Cache, Keyword.put(config, :enabled, false))
    on_exit(fn -> Application.put_env(:api, Cache, config) end)

    handler = "cache-disabled-test"
    test_pid = self()
    event = [:api, :cache, :lookup]
    :telemetry.attach(handler, event, fn _, _, meta, _ -> send(test_pid, meta.result) end, nil)
    on_exit(fn -> :telemetry.detach(handler) end)
  end

  test "starts no Redis connection" do
    assert Cache.start_link() == :ignore
  end

  test "misses every read without asking Redis, and writes nothing" do
    # port 1 refuses connections: any command sent there would be an error
    {:ok, conn} = Redix.start_link("redis://127.0.0.1:1", sync_connect: false)
    assert Cache.fetch("any", conn) == :miss
    refute_received _lookup
    assert Cache.put("any", 1, conn) == :ok
    assert Cache.delete("any", conn) == :ok
    assert Cache.ping(conn) == :disabled
  end

  test "readiness is ok and names the cache disabled", %{conn: conn} do
    assert {:ok, %{redis: :disabled}} = Health.readiness()

    assert conn |> get("/api/ready") |> json_response(200) == %{
             "status" => "ok",
             "checks" => %{
               "postgres" => %{"status" => "ok"},
               "redis" => %{"status" => "disabled"}
             }
           }
  end

  test "items are served from the database" do
    item = item_fixture()
    assert Items.get_item_cached(item.id) == {:ok, item}
  end
end
