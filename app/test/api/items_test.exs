defmodule Api.ItemsTest do
  use Api.DataCase, async: true

  alias Api.Items
  alias Api.Items.Item

  describe "list_items/2" do
    test "pages through items in id order" do
      [a, b, c] = for _ <- 1..3, do: item_fixture()

      first = Items.list_items(1, 2)
      assert Enum.map(first.entries, & &1.id) == [a.id, b.id]
      assert %{page: 1, page_size: 2, total_entries: 3, total_pages: 2} = first
      assert Enum.map(Items.list_items(2, 2).entries, & &1.id) == [c.id]
      assert Items.list_items(3, 2).entries == []
    end
  end

  describe "get_item/1" do
    test "finds an item by integer or string id" do
      item = item_fixture()
      assert {:ok, %Item{name: name}} = Items.get_item(item.id)
      assert name == item.name
      assert {:ok, %Item{}} = Items.get_item(Integer.to_string(item.id))
    end

    test "is not_found for unknown or malformed ids" do
      for id <- [0, -1, "abc", "1x", "99999999999999999999", nil, 2_000_000_000] do
        assert Items.get_item(id) == {:error, :not_found}, "id #{inspect(id)}"
      end
    end
  end

  describe "create_item/1" do
    test "stores a valid item" do
      assert {:ok, item} = Items.create_item(%{"name" => "bolt", "quantity" => 5})
      assert %Item{name: "bolt", quantity: 5, description: nil} = item
    end

    test "defaults the quantity to 0" do
      assert {:ok, %Item{quantity: 0}} = Items.create_item(%{"name" => "nut"})
    end

    test "rejects missing, too long and negative values" do
      assert {:error, changeset} = Items.create_item(%{"quantity" => -1})

      assert errors_on(changeset) == %{
               name: ["can't be blank"],
               quantity: ["must be greater than or equal to 0"]
             }

      assert {:error, changeset} = Items.create_item(%{"name" => String.duplicate("x", 201)})
      assert errors_on(changeset) == %{name: ["should be at most 200 character(s)"]}
    end

    test "rejects a duplicate name" do
      item_fixture(%{"name" => "washer"})
      assert {:error, changeset} = Items.create_item(%{"name" => "washer"})
      assert errors_on(changeset) == %{name: ["has already been taken"]}
    end
  end

  test "update_item/2 changes fields and validates" do
    item = item_fixture()
    assert {:ok, %Item{quantity: 9}} = Items.update_item(item, %{"quantity" => 9})
    assert {:error, changeset} = Items.update_item(item, %{"name" => ""})
    assert errors_on(changeset) == %{name: ["can't be blank"]}
  end

  test "delete_item/1 removes the item" do
    item = item_fixture()
    assert {:ok, _} = Items.delete_item(item)
    assert Items.get_item(item.id) == {:error, :not_found}
  end
end
