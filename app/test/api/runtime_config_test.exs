defmodule Api.RuntimeConfigTest do
  # not async: it sets an environment variable of the VM
  use ExUnit.Case, async: false

  @runtime Path.expand("../../config/runtime.exs", __DIR__)

  setup do
    previous = System.get_env("CACHE_ENABLED")

    on_exit(fn ->
      if previous,
        do: System.put_env("CACHE_ENABLED", previous),
        else: System.delete_env("CACHE_ENABLED")
    end)
  end

  defp cache_enabled(value) do
    System.put_env("CACHE_ENABLED", value)
    config = Config.Reader.read!(@runtime, env: :test)
    config |> Keyword.get(:api, []) |> Keyword.get(Api.Cache, []) |> Keyword.fetch!(:enabled)
  end

  test "CACHE_ENABLED switches the cache, as the manifests set it" do
    assert cache_enabled("false") == false
    assert cache_enabled("0") == false
    assert cache_enabled("true") == true
    assert cache_enabled("1") == true
  end

  test "an unknown CACHE_ENABLED value stops the start with a message" do
    assert_raise RuntimeError, ~r/CACHE_ENABLED must be true or false, got "yes"/, fn ->
      cache_enabled("yes")
    end
  end
end
