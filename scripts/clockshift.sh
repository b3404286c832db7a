#!/usr/bin/env bash
# Writes a go build overlay that shifts the standard library's time.Now by
# $ROTATION_CLOCK_SHIFT (a Go duration such as 9600h) and prints the overlay's
# path. Use it as GOFLAGS=-overlay=<path>: it reaches every test binary, and
# every binary a test builds with the go command. libfaketime does not reach
# Go programs (they read the clock through the vDSO); this does.
#   ./scripts/clockshift.sh DIR    # DIR receives time.go, clockshift.go, overlay.json
# Only the wall clock moves; monotonic readings (time.Since on a Now value,
# timers) are untouched, and so are the services (Postgres, Redis).
set -euo pipefail
dir=${1:?usage: clockshift.sh DIR}
mkdir -p "$dir"
goroot=$(go env GOROOT)
src="$goroot/src/time/time.go"
anchor='sec, nsec, mono := runtimeNow()'
grep -qF "$anchor" "$src" || { echo "clockshift: $src has no '$anchor' (Go changed time.Now): update this script" >&2; exit 1; }
# time.Now: add the shift to the wall-clock seconds right after reading them.
awk -v a="$anchor" '{ print } index($0, a) { print "\tsec += clockShiftSeconds" }' "$src" > "$dir/time.go"
[ "$(grep -c clockShiftSeconds "$dir/time.go")" = 1 ] || { echo "clockshift: patching time.Now failed" >&2; exit 1; }
cat > "$dir/clockshift.go" <<'GO'
package time

import "syscall"

// clockShiftSeconds is added to every wall-clock reading of Now. It comes
// from ROTATION_CLOCK_SHIFT (a duration, e.g. 9600h); unset or invalid is 0.
var clockShiftSeconds = func() int64 {
	v, ok := syscall.Getenv("ROTATION_CLOCK_SHIFT")
	if !ok {
		return 0
	}
	d, err := ParseDuration(v)
	if err != nil {
		return 0
	}
	return int64(d / Second)
}()
GO
printf '{"Replace":{"%s":"%s","%s":"%s"}}\n' \
  "$src" "$dir/time.go" "$goroot/src/time/zz_rotation_clockshift.go" "$dir/clockshift.go" > "$dir/overlay.json"
echo "$dir/overlay.json"
