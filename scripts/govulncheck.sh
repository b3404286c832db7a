#!/usr/bin/env bash
# Runs govulncheck over the module with an offline vulnerability database.
# The database's own host is not reachable here, so the database is built from
# the golang.org/x/vulndb module (its data/osv, indexed by its cmd/indexdb),
# which comes through the Go module proxy, and cached in $ROTATION_CACHE.
# Exits non-zero when the code calls a known vulnerability (govulncheck's own
# exit status 3), so CI fails on a reachable vulnerability.
#   ./scripts/govulncheck.sh [packages]     # default ./...
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.sh
VULN_VERSION=v1.9.0                                   # golang.org/x/vuln (govulncheck)
VULNDB_VERSION=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}  # golang.org/x/vulndb
cache=${ROTATION_CACHE:-/var/cache/rotation}
db="$cache/vulndb-$VULNDB_VERSION"
if [ ! -f "$db/index/db.json" ]; then
  printf 'govulncheck: building the vulnerability database from golang.org/x/vulndb@%s\n' "$VULNDB_VERSION" >&2
  src=$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | awk -F'"' '$2 == "Dir" { print $4 }')
  [ -d "$src/data/osv" ] || { echo "govulncheck: no data/osv in golang.org/x/vulndb@$VULNDB_VERSION" >&2; exit 1; }
  rm -rf "$db.tmp" && mkdir -p "$cache"
  go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$src/data/osv" -out "$db.tmp"
  rm -rf "$db" && mv "$db.tmp" "$db"
fi
[ "$#" -gt 0 ] || set -- ./...
printf 'govulncheck: %s, database golang.org/x/vulndb@%s\n' "$(go env GOVERSION)" "$VULNDB_VERSION" >&2
exec go run "golang.org/x/vuln/cmd/govulncheck@$VULN_VERSION" -db "file://$db" "$@"
