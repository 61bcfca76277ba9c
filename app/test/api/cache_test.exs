defmodule Api.CacheTest do
  use Api.DataCase, async: true

  alias Api.{Cache, Items}
  alias Api.Items.Item

  @moduletag :redis

  setup do
    ref = make_ref()
    handler = "cache-test-#{inspect(ref)}"
    test_pid = self()

    :telemetry.attach(
      handler,
      [:api, :cache, :lookup],
      # handlers run in the caller: count only this test's lookups
      fn _event, _measurements, meta, _ ->
        if self() == test_pid, do: send(test_pid, {:lookup, meta.result})
      end,
      nil
    )

    on_exit(fn -> :telemetry.detach(handler) end)
  end

  describe "the cache itself" do
    test "stores, fetches and deletes terms" do
      key = "api:test:#{System.unique_integer([:positive])}"
      assert Cache.fetch(key) == :miss
      assert Cache.put(key, %{a: [1, 2]}) == :ok
      assert Cache.fetch(key) == {:ok, %{a: [1, 2]}}
      assert Cache.delete(key) == :ok
      assert Cache.fetch(key) == :miss
    end

    test "entries expire after the configured TTL" do
      key = "api:test:#{System.unique_integer([:positive])}"
      Cache.put(key, :value)
      {:ok, ttl} = Redix.command(Api.Cache.Connection, ["TTL", key])
      assert ttl in 1..Application.fetch_env!(:api, Cache)[:ttl]
      Cache.delete(key)
    end

    test "treats a value it cannot decode as a miss" do
      key = "api:test:#{System.unique_integer([:positive])}"
      {:ok, _} = Redix.command(Api.Cache.Connection, ["SET", key, "not a term"])
      assert Cache.fetch(key) == :miss
      assert_received {:lookup, :error}
      Cache.delete(key)
    end
  end

  describe "Items.get_item_cached/1" do
    test "serves the second read from Redis" do
      item = item_fixture()
      assert {:ok, %Item{}} = Items.get_item_cached(item.id)
      assert_received {:lookup, :miss}

      # change the row behind the cache's back: a cached read still sees the old name
      Repo.update_all(from(i in Item, where: i.id == ^item.id), set: [name: "changed"])
      assert {:ok, %Item{name: name}} = Items.get_item_cached(item.id)
      assert name == item.name
      assert_received {:lookup, :hit}
    end

    test "update invalidates the cached item" do
      item = item_fixture()
      {:ok, _} = Items.get_item_cached(item.id)
      {:ok, _} = Items.update_item(item, %{"name" => "renamed-#{item.id}"})
      assert {:ok, %Item{name: "renamed-" <> _}} = Items.get_item_cached(item.id)
    end

    test "delete invalidates the cached item" do
      item = item_fixture()
      {:ok, _} = Items.get_item_cached(item.id)
      {:ok, _} = Items.delete_item(item)
      assert Items.get_item_cached(item.id) == {:error, :not_found}
    end

    test "does not cache unknown items" do
      assert Items.get_item_cached(2_000_000_000) == {:error, :not_found}
      assert Cache.fetch(Items.cache_key(2_000_000_000)) == :miss
    end
  end

  describe "with Redis unreachable" do
    setup do
      # port 1 refuses connections: a Redix connection that never comes up
      {:ok, conn} = Redix.start_link("redis://127.0.0.1:1", sync_connect: false)
      {:ok, conn: conn}
    end

    test "every call degrades to a miss or an error value", %{conn: conn} do
      assert Cache.fetch("any", conn) == :miss
      assert_received {:lookup, :error}
      assert Cache.put("any", 1, conn) == :error
      assert Cache.delete("any", conn) == :error
      assert {:error, reason} = Cache.ping(conn)
      assert is_binary(reason)
    end
  end
end
