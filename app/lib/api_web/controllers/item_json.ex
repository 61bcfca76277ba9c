defmodule ApiWeb.ItemJSON do
  alias Api.Items.Item

  def index(%{page: page}) do
    %{
      data: Enum.map(page.entries, &data/1),
      meta: Map.take(page, [:page, :page_size, :total_entries, :total_pages])
    }
  end

  def show(%{item: item}), do: %{data: data(item)}

  defp data(%Item{} = item) do
    %{
      id: item.id,
      name: item.name,
      description: item.description,
      quantity: item.quantity,
      inserted_at: item.inserted_at,
      updated_at: item.updated_at
    }
  end
end
