defmodule ApiWeb.FallbackController do
  @moduledoc "Turns the `{:error, _}` results of controller actions into JSON responses."

  use ApiWeb, :controller

  def call(conn, {:error, %Ecto.Changeset{} = changeset}) do
    conn
    |> put_status(:unprocessable_entity)
    |> put_view(json: ApiWeb.ChangesetJSON)
    |> render(:error, changeset: changeset)
  end

  def call(conn, {:error, {:bad_param, name, message}}) do
    conn
    |> put_status(:bad_request)
    |> json(%{errors: %{name => [message]}})
  end

  def call(conn, {:error, :not_found}) do
    conn
    |> put_status(:not_found)
    |> put_view(json: ApiWeb.ErrorJSON)
    |> render(:"404")
  end
end
