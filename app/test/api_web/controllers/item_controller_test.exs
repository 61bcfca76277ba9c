defmodule ApiWeb.ItemControllerTest do
  use ApiWeb.ConnCase, async: true

  describe "GET /api/items" do
    test "lists a page of items with paging metadata", %{conn: conn} do
      [a, b, _c] = for _ <- 1..3, do: item_fixture()

      body = conn |> get("/api/items?page=1&page_size=2") |> json_response(200)
      assert Enum.map(body["data"], & &1["id"]) == [a.id, b.id]

      assert body["meta"] == %{
               "page" => 1,
               "page_size" => 2,
               "total_entries" => 3,
               "total_pages" => 2
             }
    end

    test "defaults to the first page of 20", %{conn: conn} do
      body = conn |> get("/api/items") |> json_response(200)
      assert %{"page" => 1, "page_size" => 20, "total_entries" => 0} = body["meta"]
    end

    test "rejects bad paging parameters with 400", %{conn: conn} do
      for query <- ["page=0", "page=x", "page_size=101", "page_size=-5", "page[]=1"] do
        body = conn |> get("/api/items?" <> query) |> json_response(400)
        assert %{"errors" => errors} = body, query
        assert map_size(errors) == 1
      end
    end
  end

  describe "GET /api/items/:id" do
    test "shows an item", %{conn: conn} do
      item = item_fixture(%{"description" => "steel"})
      body = conn |> get("/api/items/#{item.id}") |> json_response(200)

      assert %{"id" => id, "name" => name, "description" => "steel", "quantity" => 3} =
               body["data"]

      assert {id, name} == {item.id, item.name}
      assert {:ok, _, _} = DateTime.from_iso8601(body["data"]["inserted_at"])
    end

    test "is 404 for unknown and malformed ids", %{conn: conn} do
      for id <- ["2000000000", "abc"] do
        body = conn |> get("/api/items/#{id}") |> json_response(404)
        assert body == %{"errors" => %{"detail" => "Not Found"}}
      end
    end
  end

  describe "POST /api/items" do
    test "creates an item", %{conn: conn} do
      conn = post(conn, "/api/items", item: %{name: "gear", quantity: 7})
      assert %{"id" => id, "name" => "gear", "quantity" => 7} = json_response(conn, 201)["data"]
      assert get_resp_header(conn, "location") == ["/api/items/#{id}"]
    end

    test "is 422 with the errors of an invalid item", %{conn: conn} do
      conn = post(conn, "/api/items", item: %{name: "", quantity: -2})

      assert json_response(conn, 422) == %{
               "errors" => %{
                 "name" => ["can't be blank"],
                 "quantity" => ["must be greater than or equal to 0"]
               }
             }
    end

    test "is 422 when the body has no item", %{conn: conn} do
      conn = post(conn, "/api/items", name: "flat")
      assert json_response(conn, 422) == %{"errors" => %{"name" => ["can't be blank"]}}
    end

    test "is 422 for a duplicate name", %{conn: conn} do
      item = item_fixture()
      conn = post(conn, "/api/items", item: %{name: item.name})
      assert json_response(conn, 422)["errors"] == %{"name" => ["has already been taken"]}
    end
  end

  describe "PUT /api/items/:id" do
    test "updates an item", %{conn: conn} do
      item = item_fixture()
      conn = put(conn, "/api/items/#{item.id}", item: %{quantity: 42})
      assert %{"quantity" => 42} = json_response(conn, 200)["data"]
    end

    test "is 422 for invalid changes and 404 for unknown items", %{conn: conn} do
      item = item_fixture()
      response = conn |> put("/api/items/#{item.id}", item: %{quantity: "many"})
      assert json_response(response, 422)["errors"] == %{"quantity" => ["is invalid"]}
      response = conn |> patch("/api/items/2000000000", item: %{quantity: 1})
      assert json_response(response, 404)
    end
  end

  describe "DELETE /api/items/:id" do
    test "deletes an item", %{conn: conn} do
      item = item_fixture()
      assert conn |> delete("/api/items/#{item.id}") |> response(204) == ""
      assert conn |> get("/api/items/#{item.id}") |> json_response(404)
      assert conn |> delete("/api/items/#{item.id}") |> json_response(404)
    end
  end
end
