#!/bin/sh
# As upstream's entrypoint: `redis-server` first when the first argument is an option.
set -e
case "$1" in -*) set -- redis-server "$@" ;; esac
if [ "$1" = redis-server ]; then
  shift
  set -- redis-server --protected-mode no "$@"
fi
exec "$@"
