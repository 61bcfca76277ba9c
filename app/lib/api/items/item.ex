defmodule Api.Items.Item do
  @moduledoc "An item of the inventory."

  use Ecto.Schema
  import Ecto.Changeset

  schema "items" do
    field :name, :string
    field :description, :string
    field :quantity, :integer, default: 0

    timestamps(type: :utc_datetime_usec)
  end

  @doc "Validates the fields a client may set."
  def changeset(item, attrs) do
    item
    |> cast(attrs, [:name, :description, :quantity])
    |> validate_required([:name])
    |> validate_length(:name, max: 200)
    |> validate_length(:description, max: 2_000)
    |> validate_number(:quantity, greater_than_or_equal_to: 0)
    |> unique_constraint(:name)
    |> check_constraint(:quantity, name: :quantity_not_negative, message: "must be >= 0")
  end
end
