defmodule ApiWeb.Telemetry do
  @moduledoc """
  Metrics served at /metrics in the Prometheus text format: HTTP requests and their
  latency, database queries and pool, the cache, and the VM.
  """

  use Supervisor

  import Telemetry.Metrics

  @reporter :api_prometheus
  @seconds [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

  def start_link(arg), do: Supervisor.start_link(__MODULE__, arg, name: __MODULE__)

  @impl true
  def init(_arg) do
    children = [
      {TelemetryMetricsPrometheus.Core, name: @reporter, metrics: metrics(), start_async: false},
      {:telemetry_poller, name: :api_poller, measurements: measurements(), period: 10_000}
    ]

    Supervisor.init(children, strategy: :one_for_one)
  end

  @doc "The current metrics in the Prometheus text format."
  def scrape, do: TelemetryMetricsPrometheus.Core.scrape(@reporter)

  def metrics, do: http_metrics() ++ db_metrics() ++ cache_metrics() ++ vm_metrics()

  defp http_metrics do
    dispatch = [:phoenix, :router_dispatch, :stop]
    tags = [tags: [:method, :route, :status], tag_values: &request_tags/1]

    [
      counter("http.requests.total", [event_name: dispatch] ++ tags),
      distribution(
        "http.request.duration.seconds",
        [event_name: dispatch, measurement: :duration, unit: {:native, :second}] ++
          tags ++ [reporter_options: [buckets: @seconds]]
      ),
      counter("http.exceptions.total",
        event_name: [:phoenix, :router_dispatch, :exception],
        tags: [:route, :kind]
      )
    ]
  end

  defp db_metrics do
    query = [event_name: [:api, :repo, :query], unit: {:native, :second}]
    buckets = [reporter_options: [buckets: @seconds]]

    [
      distribution("db.query.duration.seconds", query ++ [measurement: :total_time] ++ buckets),
      distribution("db.pool.wait.seconds", query ++ [measurement: :queue_time] ++ buckets),
      last_value("db.pool.size", event_name: [:api, :db_pool], measurement: :size),
      last_value("db.pool.idle.connections", event_name: [:api, :db_pool], measurement: :idle),
      last_value("db.pool.queue.length", event_name: [:api, :db_pool], measurement: :queued)
    ]
  end

  defp cache_metrics do
    [counter("cache.lookups.total", event_name: [:api, :cache, :lookup], tags: [:result])]
  end

  defp vm_metrics do
    [
      last_value("vm.memory.total.bytes", event_name: [:vm, :memory], measurement: :total),
      last_value("vm.run.queue.length",
        event_name: [:vm, :total_run_queue_lengths],
        measurement: :total
      ),
      last_value("vm.process.count",
        event_name: [:vm, :system_counts],
        measurement: :process_count
      ),
      last_value("vm.port.count", event_name: [:vm, :system_counts], measurement: :port_count)
    ]
  end

  defp request_tags(%{conn: conn, route: route}) do
    %{method: conn.method, route: route, status: conn.status}
  end

  defp measurements do
    [:memory, :total_run_queue_lengths, :system_counts, {__MODULE__, :dispatch_db_pool, []}]
  end

  @doc false
  # Emits [:api, :db_pool]: configured size, idle connections, callers waiting.
  def dispatch_db_pool do
    %{pid: pool} = Ecto.Adapter.lookup_meta(Api.Repo)
    stats = DBConnection.get_connection_metrics(pool, pool: pool_module(Api.Repo.config()))

    :telemetry.execute([:api, :db_pool], %{
      size: Keyword.get(Api.Repo.config(), :pool_size, 10),
      idle: Enum.sum(Enum.map(stats, & &1.ready_conn_count)),
      queued: Enum.sum(Enum.map(stats, & &1.checkout_queue_length))
    })
  rescue
    # the repo is (re)starting; a raise would make the poller drop this measurement
    _ -> :ok
  catch
    :exit, _ -> :ok
  end

  # The test sandbox is an ownership pool, which answers the same metrics call.
  defp pool_module(config) do
    case Keyword.get(config, :pool, DBConnection.ConnectionPool) do
      Ecto.Adapters.SQL.Sandbox -> DBConnection.Ownership
      pool -> pool
    end
  end
end
