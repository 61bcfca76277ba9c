defmodule ApiWeb.MetricsControllerTest do
  use ApiWeb.ConnCase, async: true

  test "GET /metrics serves request, database, pool, cache and VM metrics", %{conn: conn} do
    get(conn, "/api/health")
    item = item_fixture()
    get(conn, "/api/items/#{item.id}")
    ApiWeb.Telemetry.dispatch_db_pool()
    :telemetry.execute([:vm, :memory], %{total: 1_024}, %{})

    conn = get(conn, "/metrics")
    body = response(conn, 200)
    assert ["text/plain; version=0.0.4" <> _] = get_resp_header(conn, "content-type")

    assert body =~ ~s(http_requests_total{method="GET",route="/api/health",status="200"})
    assert body =~ ~s(http_request_duration_seconds_bucket{)
    assert body =~ "db_query_duration_seconds_count"
    assert body =~ "db_pool_size"
    assert body =~ "cache_lookups_total"
    assert body =~ "vm_memory_total_bytes"
  end
end
