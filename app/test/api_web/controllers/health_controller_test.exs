defmodule ApiWeb.HealthControllerTest do
  # not async: one test stops the shared Redis connection
  use ApiWeb.ConnCase, async: false

  test "GET /api/health is ok without touching dependencies", %{conn: conn} do
    assert conn |> get("/api/health") |> json_response(200) == %{"status" => "ok"}
  end

  @tag :redis
  test "GET /api/ready reports PostgreSQL and Redis", %{conn: conn} do
    assert conn |> get("/api/ready") |> json_response(200) == %{
             "status" => "ok",
             "checks" => %{"postgres" => %{"status" => "ok"}, "redis" => %{"status" => "ok"}}
           }
  end

  describe "with Redis down" do
    setup do
      stop_redis()
    end

    test "readiness stays 200 but reports the degraded cache", %{conn: conn} do
      body = conn |> get("/api/ready") |> json_response(200)
      assert body["status"] == "degraded"
      assert body["checks"]["postgres"] == %{"status" => "ok"}
      assert %{"status" => "error", "error" => error} = body["checks"]["redis"]
      assert is_binary(error)
    end

    test "the items API keeps working, uncached", %{conn: conn} do
      item = item_fixture()
      assert conn |> get("/api/items/#{item.id}") |> json_response(200)
      conn = put(conn, "/api/items/#{item.id}", item: %{quantity: 1})
      assert %{"quantity" => 1} = json_response(conn, 200)["data"]
      assert conn |> get("/api/items/#{item.id}") |> json_response(200)
      assert conn |> delete("/api/items/#{item.id}") |> response(204)
    end
  end
end
