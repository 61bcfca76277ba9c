defmodule ApiWeb.ItemController do
  use ApiWeb, :controller

  alias Api.Items

  action_fallback ApiWeb.FallbackController

  @max_page_size 100

  def index(conn, params) do
    with {:ok, page} <- page_param(params, "page", 1, nil),
         {:ok, size} <- page_param(params, "page_size", 20, @max_page_size) do
      render(conn, :index, page: Items.list_items(page, size))
    end
  end

  def create(conn, params) do
    with {:ok, item} <- Items.create_item(item_params(params)) do
      conn
      |> put_status(:created)
      |> put_resp_header("location", "/api/items/#{item.id}")
      |> render(:show, item: item)
    end
  end

  def show(conn, %{"id" => id}) do
    with {:ok, item} <- Items.get_item_cached(id) do
      render(conn, :show, item: item)
    end
  end

  def update(conn, %{"id" => id} = params) do
    with {:ok, item} <- Items.get_item(id),
         {:ok, item} <- Items.update_item(item, item_params(params)) do
      render(conn, :show, item: item)
    end
  end

  def delete(conn, %{"id" => id}) do
    with {:ok, item} <- Items.get_item(id),
         {:ok, _item} <- Items.delete_item(item) do
      send_resp(conn, :no_content, "")
    end
  end

  # The body is {"item": {...}}; anything else is validated as an empty item (422).
  defp item_params(%{"item" => %{} = attrs}), do: attrs
  defp item_params(_params), do: %{}

  defp page_param(params, name, default, max) do
    case Map.fetch(params, name) do
      :error -> {:ok, default}
      {:ok, value} -> parse_page_param(value, name, max)
    end
  end

  defp parse_page_param(value, name, max) do
    case is_binary(value) && Integer.parse(value) do
      {int, ""} when int > 0 and (is_nil(max) or int <= max) -> {:ok, int}
      _ -> {:error, {:bad_param, name, page_message(max)}}
    end
  end

  defp page_message(nil), do: "must be a positive integer"
  defp page_message(max), do: "must be an integer from 1 to #{max}"
end
