defmodule Api.Items do
  @moduledoc """
  The items context: CRUD over PostgreSQL, with single items cached in Redis.

  Reads of one item go through the cache; every write invalidates it. When Redis is
  down the cache reports a miss and the database answers.
  """

  import Ecto.Query, warn: false

  alias Api.{Cache, Repo}
  alias Api.Items.Item

  @max_id 9_223_372_036_854_775_807

  @doc """
  One page of items, ordered by id.

  Returns `%{entries: [...], page: p, page_size: s, total_entries: n, total_pages: t}`.
  """
  def list_items(page, page_size)
      when is_integer(page) and page > 0 and is_integer(page_size) and page_size > 0 do
    total = Repo.aggregate(Item, :count)

    entries =
      Item
      |> order_by(asc: :id)
      |> limit(^page_size)
      |> offset(^((page - 1) * page_size))
      |> Repo.all()

    %{
      entries: entries,
      page: page,
      page_size: page_size,
      total_entries: total,
      total_pages: div(total + page_size - 1, page_size)
    }
  end

  @doc "The item with `id` from the database: `{:ok, item}` or `{:error, :not_found}`."
  def get_item(id) do
    with {:ok, id} <- cast_id(id) do
      case Repo.get(Item, id) do
        nil -> {:error, :not_found}
        item -> {:ok, item}
      end
    end
  end

  @doc "Like `get_item/1`, answered from the cache when it holds the item."
  def get_item_cached(id) do
    with {:ok, id} <- cast_id(id) do
      case Cache.fetch(cache_key(id)) do
        {:ok, %Item{} = item} -> {:ok, item}
        _miss -> get_and_cache(id)
      end
    end
  end

  defp get_and_cache(id) do
    with {:ok, item} <- get_item(id) do
      Cache.put(cache_key(id), item)
      {:ok, item}
    end
  end

  def create_item(attrs) do
    %Item{}
    |> Item.changeset(attrs)
    |> Repo.insert()
  end

  def update_item(%Item{} = item, attrs) do
    item
    |> Item.changeset(attrs)
    |> Repo.update()
    |> tap(fn _ -> Cache.delete(cache_key(item.id)) end)
  end

  def delete_item(%Item{} = item) do
    item
    |> Repo.delete()
    |> tap(fn _ -> Cache.delete(cache_key(item.id)) end)
  end

  @doc "The cache key of an item; the version segment changes with the cached shape."
  def cache_key(id), do: "api:item:v1:#{id}"

  defp cast_id(id) when is_integer(id) and id > 0 and id <= @max_id, do: {:ok, id}

  defp cast_id(id) when is_binary(id) do
    case Integer.parse(id) do
      {int, ""} -> cast_id(int)
      _ -> {:error, :not_found}
    end
  end

  defp cast_id(_id), do: {:error, :not_found}
end
