#!/bin/sh
# Entrypoint of the drop-in Redis image: same contract as the official one (flags alone go to
# redis-server), listening on every interface with protected mode off and no persistence.
set -eu
if [ "${1#-}" != "${1:-}" ]; then
    set -- redis-server "$@"
fi
if [ "${1:-}" = redis-server ]; then
    shift
    set -- redis-server --bind 0.0.0.0 --protected-mode no --save '' --appendonly no "$@"
fi
exec "$@"
