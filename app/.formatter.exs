# The DSL calls of Ecto, Ecto migrations and Phoenix are listed here instead of
# `import_deps`, so the formatting check runs without fetching dependencies.
[
  inputs: [
    "*.{ex,exs}",
    "{config,lib,test}/**/*.{ex,exs}",
    "priv/repo/migrations/*.exs"
  ],
  locals_without_parens: [
    # Ecto.Schema
    field: 2,
    field: 3,
    timestamps: 1,
    # Ecto.Migration
    add: 2,
    add: 3,
    create: 1,
    # Phoenix.Router, Phoenix.Controller, Plug.Builder
    action_fallback: 1,
    get: 3,
    get: 4,
    pipe_through: 1,
    plug: 1,
    plug: 2,
    resources: 3,
    resources: 4
  ]
]
