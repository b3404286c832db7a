#!/usr/bin/env bash
# Prepares the local test services and runs the whole test suite against them:
#   ./scripts/test.sh            # go test -race ./...
#   ./scripts/test.sh -run Foo ./jwtkeys/   # extra arguments go to go test
#   PG_VERSIONS=16 ./scripts/test.sh ./pgrole/...  # one PostgreSQL version (default "15 16 17")
#   ROTATION_CLOCK_SHIFT=9600h ./scripts/test.sh    # the same suite 400 days from now
# On a fresh machine of this project's kind it starts Postgres and Redis when
# installed but stopped, installs PgBouncer from Debian packages when missing,
# and adds a scram-sha-256 pg_hba rule for the database rotation_scram so that
# password tests really authenticate. Every step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
SCRAM_DB=rotation_scram

log() { printf 'test.sh: %s\n' "$*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }
local_url() { case "$1" in *@127.0.0.1*|*@localhost*|*@\[::1\]*) return 0;; *) return 1;; esac; }

# --- Postgres -----------------------------------------------------------------
if local_url "$DATABASE_URL" && command -v pg_lsclusters >/dev/null 2>&1; then
  if ! pg_isready -h 127.0.0.1 -q 2>/dev/null; then
    ver=$(ls /etc/postgresql | sort -V | tail -n1)
    log "starting PostgreSQL $ver"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || log "could not start PostgreSQL"
    for _ in $(seq 1 50); do pg_isready -h 127.0.0.1 -q && break; sleep 0.2; done
  fi
fi

# --- Redis --------------------------------------------------------------------
if local_url "$REDIS_URL" || [[ "$REDIS_URL" == redis://127.0.0.1* ]]; then
  if command -v redis-server >/dev/null 2>&1 && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    log "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || log "could not start Redis"
    for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.2; done
  fi
fi

# --- PgBouncer ----------------------------------------------------------------
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  if is_root && command -v apt-get >/dev/null 2>&1; then
    log "installing pgbouncer"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
  else
    log "pgbouncer is not installed and cannot be installed here; PgBouncer tests will skip (fail under CI)"
  fi
fi
# --- scram-sha-256 rule for the password-test database --------------------------
if local_url "$DATABASE_URL" && command -v psql >/dev/null 2>&1; then
  psql "$DATABASE_URL" -qtAc "SELECT 1 FROM pg_database WHERE datname = '$SCRAM_DB'" | grep -q 1 ||
    psql "$DATABASE_URL" -qc "CREATE DATABASE $SCRAM_DB"
  hba=$(psql "$DATABASE_URL" -qtAc "SHOW hba_file")
  if [ -w "$hba" ] && ! grep -qE "^host[[:space:]]+$SCRAM_DB[[:space:]]" "$hba"; then
    log "adding scram-sha-256 rule for $SCRAM_DB to $hba"
    tmp=$(mktemp)
    # Insert before the first rule so it wins over the trust rules.
    awk -v db="$SCRAM_DB" '
      !done && $0 !~ /^[[:space:]]*(#|$)/ {
        print "# rotation tests: passwords are really checked for this database"
        print "host    " db "    all    127.0.0.1/32    scram-sha-256"
        print "host    " db "    all    ::1/128         scram-sha-256"
        done = 1
      }
      { print }' "$hba" > "$tmp"
    cat "$tmp" > "$hba" && rm -f "$tmp"
    psql "$DATABASE_URL" -qtAc "SELECT pg_reload_conf()" >/dev/null
  fi
fi

# --- the tests ----------------------------------------------------------------
# The whole suite runs on the machine's own PostgreSQL (DATABASE_URL, 15 here);
# then every package whose tests reach Postgres (they depend on pgx) runs again
# on each other version in PG_VERSIONS, on a cluster started by
# scripts/postgres-versions.sh. PG_EXPECT_MAJOR makes each test fail if its
# server is not the version the run claims. ROTATION_CLOCK_SHIFT (a Go duration,
# e.g. 9600h) shifts time.Now in every test binary through a build overlay
# (scripts/clockshift.sh); the services keep the real time.
source scripts/toolchain.sh
source scripts/postgres-versions.sh
trap pg_stop_started EXIT

if [ -n "${ROTATION_CLOCK_SHIFT:-}" ]; then
  overlay=$(./scripts/clockshift.sh "${ROTATION_CACHE:-/var/cache/rotation}/clockshift-$(go env GOVERSION)")
  export GOFLAGS="${GOFLAGS:+$GOFLAGS }-overlay=$overlay"
  log "time.Now shifted by $ROTATION_CLOCK_SHIFT in every test binary"
fi

# Split the arguments into go test flags and package patterns.
flags=() pkgs=() explicit=0
for a in "$@"; do
  case "$a" in ./*|.|...|github.com/*) pkgs+=("$a"); explicit=1 ;; *) flags+=("$a") ;; esac
done
[ "${#pkgs[@]}" -gt 0 ] || pkgs=(./...)

# postgres_packages PATTERN...: the packages among PATTERN that reach Postgres:
# their code depends on pgx, or their tests import it.
postgres_packages() {
  go list -f '{{.ImportPath}}{{range .Deps}} {{.}}{{end}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}' "$@" |
    awk '/ github.com\/jackc\/pgx\/v5(\/[^ ]*)?( |$)/ { sub(/ .*/, ""); print }'
}

base_major=$(psql "$DATABASE_URL" -qtAc "SHOW server_version_num" 2>/dev/null | cut -c1-2 || true)
PG_VERSIONS=${PG_VERSIONS:-15 16 17}
status=0
if [[ " $PG_VERSIONS " == *" $base_major "* ]] || [ -z "$base_major" ]; then
  log "go test on PostgreSQL ${base_major:-?} ($DATABASE_URL): ${pkgs[*]}"
  PG_EXPECT_MAJOR=$base_major go test -race -count=1 "${flags[@]}" "${pkgs[@]}" || status=1
  only_postgres=1
else
  only_postgres=0
fi
for major in $PG_VERSIONS; do
  [ "$major" = "$base_major" ] && continue
  if [ "$only_postgres" = 1 ]; then
    mapfile -t run < <(postgres_packages "${pkgs[@]}")
  else
    run=("${pkgs[@]}")
  fi
  [ "${#run[@]}" -gt 0 ] || continue
  pg_start "$major" || { log "PostgreSQL $major could not be started"; status=1; continue; }
  log "go test on PostgreSQL $major ($PG_URL): ${#run[@]} packages"
  DATABASE_URL=$PG_URL PG_EXPECT_MAJOR=$major go test -race -count=1 "${flags[@]}" "${run[@]}" || status=1
done
# Modules of their own under examples/ (a consumer of the public packages and
# test kits, with a replace directive to this checkout): vetted and tested on
# the machine's PostgreSQL when the whole suite runs.
if [ "$explicit" = 0 ]; then
  while IFS= read -r mod; do
    dir=$(dirname "$mod")
    log "go vet + go test in the module $dir"
    (cd "$dir" && go vet ./... && go test -race -count=1 "${flags[@]}" ./...) || status=1
  done < <(find examples -mindepth 2 -name go.mod | sort)
fi
exit "$status"
