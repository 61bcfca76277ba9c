import Config

# Everything a production node needs from its environment is read in runtime.exs.
config :logger, level: :info
