defmodule Api.Repo.Migrations.CreateItems do
  use Ecto.Migration

  def change do
    create table(:items) do
      add :name, :string, null: false, size: 200
      add :description, :text
      add :quantity, :integer, null: false, default: 0

      timestamps(type: :utc_datetime_usec)
    end

    create unique_index(:items, [:name])
    create constraint(:items, :quantity_not_negative, check: "quantity >= 0")
  end
end
