#!/bin/sh
# Entrypoint of the drop-in PostgreSQL image: same environment contract as the official one.
# The cluster baked into the image is reused when the requested credentials match it; any other
# POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB gets a fresh cluster (what the official image does).
set -eu
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
user="${POSTGRES_USER:-postgres}"
password="${POSTGRES_PASSWORD:-}"
db="${POSTGRES_DB:-$user}"
marker="$PGDATA/.reality-credentials"
fingerprint=$(printf '%s\n%s\n%s\n' "$user" "$password" "$db" | sha256sum | cut -d' ' -f1)

init_cluster() {
    rm -rf "${PGDATA:?}"/* "$PGDATA"/.reality-credentials
    pwfile=$(mktemp)
    printf '%s\n' "$password" > "$pwfile"
    auth=scram-sha-256
    [ -n "$password" ] || auth=trust
    initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host="$auth" \
        --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" > /dev/null
    rm -f "$pwfile"
    if [ "$db" != postgres ]; then
        echo "CREATE DATABASE \"$db\" OWNER \"$user\";" | postgres --single -D "$PGDATA" postgres > /dev/null
    fi
    echo "host all all all $auth" >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    echo "$fingerprint" > "$marker"
}

if [ "${1:-}" = "--init-only" ]; then
    init_cluster
    exit 0
fi
# Like the official image: flags alone mean "run postgres with these flags".
if [ "${1#-}" != "${1:-}" ]; then
    set -- postgres "$@"
fi
if [ "${1:-}" = postgres ] && [ "$(cat "$marker" 2>/dev/null)" != "$fingerprint" ]; then
    init_cluster
fi
exec "$@"
