defmodule Api.DataCase do
  @moduledoc "Tests that use the database, each in a transaction rolled back at the end."

  use ExUnit.CaseTemplate

  using do
    quote do
      alias Api.Repo

      import Ecto
      import Ecto.Changeset
      import Ecto.Query
      import Api.DataCase
    end
  end

  setup tags do
    Api.DataCase.setup_sandbox(tags)
    :ok
  end

  def setup_sandbox(tags) do
    pid = Ecto.Adapters.SQL.Sandbox.start_owner!(Api.Repo, shared: not tags[:async])
    on_exit(fn -> Ecto.Adapters.SQL.Sandbox.stop_owner(pid) end)
  end

  @doc "The error messages of a changeset, by field."
  def errors_on(changeset) do
    Ecto.Changeset.traverse_errors(changeset, fn {message, opts} ->
      Regex.replace(~r"%{(\w+)}", message, fn _, key ->
        opts |> Keyword.get(String.to_existing_atom(key), key) |> to_string()
      end)
    end)
  end

  @doc "Whether Redis answers within `timeout` ms (the connection comes up in the background)."
  def redis_ready?(timeout \\ 2_000) do
    Enum.reduce_while(0..timeout//50, false, fn _, _ ->
      if Api.Cache.ping() == :ok, do: {:halt, true}, else: {:cont, Process.sleep(50) && false}
    end)
  end

  @doc "Creates an item (a unique name unless given) and clears any cached copy of it."
  def item_fixture(attrs \\ %{}) do
    {:ok, item} =
      attrs
      |> Enum.into(%{"name" => "item-#{System.unique_integer([:positive])}", "quantity" => 3})
      |> Api.Items.create_item()

    Api.Cache.delete(Api.Items.cache_key(item.id))
    item
  end
end
