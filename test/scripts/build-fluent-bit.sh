#!/usr/bin/env bash
# Builds Fluent Bit 1.8.15 with the Go output proxy (FLB_PROXY_GO) into a cache
# folder, once. The source comes from the npm package fluent-bit@0.0.3, which
# bundles the 1.8.15 tree; its empty lib/onigmo is replaced by Debian's
# Oniguruma through a small cmake file. Prints the binary's path on success.
#
# usage: build-fluent-bit.sh [CACHE_DIR]
set -euo pipefail

CACHE=${1:-${KINESIS_KPL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kinesis_kpl}}
# The folder names the plugin set: a build with another set is a new build.
DEST="$CACHE/fluent-bit-1.8.15-k8s"
BIN="$DEST/build/bin/fluent-bit"

if [ -x "$BIN" ] && "$BIN" --version >/dev/null 2>&1; then
  echo "$BIN"
  exit 0
fi

need_pkgs=()
for p in cmake flex bison libyaml-dev libssl-dev libonig-dev pkg-config make gcc g++; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "installing Debian packages: ${need_pkgs[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq >/dev/null
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

work="$DEST.tmp.$$"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "fetching Fluent Bit 1.8.15 source (npm fluent-bit@0.0.3)" >&2
npm pack fluent-bit@0.0.3 --silent >/dev/null
tar xzf fluent-bit-0.0.3.tgz
rm -f fluent-bit-0.0.3.tgz
src="$work/package/src/fluent-bit"

cat >"$src/cmake/onigmo.cmake" <<'EOC'
# Oniguruma from the system stands in for the bundled Onigmo.
add_library(libonigmo SHARED IMPORTED GLOBAL)
find_library(ONIG_SYS_LIB onig REQUIRED)
set_target_properties(libonigmo PROPERTIES IMPORTED_LOCATION ${ONIG_SYS_LIB})
add_custom_target(onigmo)
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/onigshim/onigmo.h "#include <oniguruma.h>\n")
include_directories("${CMAKE_CURRENT_BINARY_DIR}/onigshim/")
EOC

# Only the plugins the tests and the demo use are built.
wanted=" FLB_IN_DUMMY FLB_IN_LIB FLB_IN_FORWARD FLB_IN_TCP FLB_IN_STDIN FLB_IN_TAIL FLB_IN_HTTP
 FLB_IN_STORAGE_BACKLOG FLB_IN_EMITTER FLB_OUT_STDOUT FLB_OUT_NULL FLB_OUT_FILE FLB_OUT_FORWARD
 FLB_OUT_COUNTER FLB_OUT_EXIT FLB_OUT_KINESIS_STREAMS FLB_FILTER_GREP FLB_FILTER_MODIFY
 FLB_FILTER_RECORD_MODIFIER FLB_FILTER_NEST FLB_FILTER_PARSER FLB_FILTER_REWRITE_TAG FLB_FILTER_KUBERNETES "
wanted=$(echo $wanted)
flags=()
for opt in $(grep -oE '^option\(FLB_(IN|OUT|FILTER)_[A-Z0-9_]+' "$src/CMakeLists.txt" | sed 's/^option(//'); do
  if [[ " $wanted " == *" $opt "* ]]; then flags+=("-D$opt=On"); else flags+=("-D$opt=Off"); fi
done

mkdir -p "$work/build"
cd "$work/build"
echo "configuring and building Fluent Bit (about a minute or two)" >&2
if ! cmake "$src" -DCMAKE_BUILD_TYPE=Release -DFLB_RELEASE=On -DFLB_EXAMPLES=Off \
  -DFLB_SHARED_LIB=Off -DFLB_LUAJIT=Off -DFLB_BACKTRACE=Off -DFLB_PROXY_GO=On \
  -DFLB_TLS=On "${flags[@]}" >cmake.log 2>&1; then
  tail -30 cmake.log >&2
  exit 1
fi
if ! make -j"$(nproc)" >make.log 2>&1; then
  tail -30 make.log >&2
  exit 1
fi
"$work/build/bin/fluent-bit" --version >/dev/null

# The build tree is moved into place whole; the binary keeps no absolute
# references to the build folder that matter at run time.
rm -rf "$DEST"
mv "$work" "$DEST"
trap - EXIT
echo "$BIN"
