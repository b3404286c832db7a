# Sourced by .ci/run and scripts/test.sh: puts the Go toolchain named by
# go.mod's toolchain line first on PATH, as a plain directory (not inside the
# module cache, so go build overlays such as scripts/clockshift.sh can apply to
# its standard library), and pins GOTOOLCHAIN=local so nothing switches again.
# The copy is cached in $ROTATION_CACHE (default /var/cache/rotation).
# shellcheck shell=bash
rotation_toolchain() {
  local want have cache dir src
  want=$(awk '$1 == "toolchain" { print $2 }' go.mod)
  [ -n "$want" ] || return 0
  have=$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null || true)
  if [ "$have" = "$want" ]; then export GOTOOLCHAIN=local; return 0; fi
  cache=${ROTATION_CACHE:-/var/cache/rotation}
  dir="$cache/$want"
  if [ ! -x "$dir/bin/go" ] || [ "$("$dir/bin/go" env GOVERSION 2>/dev/null)" != "$want" ]; then
    printf 'toolchain: fetching %s\n' "$want" >&2
    src=$(GOTOOLCHAIN="$want" go env GOROOT) || { echo "toolchain: cannot fetch $want" >&2; return 1; }
    mkdir -p "$cache" && rm -rf "$dir.tmp" && cp -a "$src" "$dir.tmp" && chmod -R u+w "$dir.tmp" &&
      rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  export PATH="$dir/bin:$PATH" GOTOOLCHAIN=local
  [ "$(go env GOVERSION)" = "$want" ] || { echo "toolchain: $dir is not $want" >&2; return 1; }
}
rotation_toolchain
