#!/bin/sh
# Compile-checks vassa-driver's `frontpanel` feature (the real XEM6010 endpoints) without Opal
# Kelly's proprietary SDK: builds a stand-in SDK (okFrontPanel.h here, a libokFrontPanel.so whose
# every call fails) and points rust-hdl-ok-frontpanel-sys's build script at it. Needs a C
# compiler and libclang (Debian: libclang-dev) for bindgen.
#   check.sh          cargo check -p vassa-driver --features frontpanel --all-targets
#   check.sh --test   instead builds the feature's tests, links them against the stub and runs
#                     them (no device opens); it reuses `cargo test`'s build, so CI uses it
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
sdk="$root/target/ok-sdk-stub"
mkdir -p "$sdk"
cp "$here/okFrontPanel.h" "$sdk/"
${CC:-cc} -Wall -Wextra -Wno-unused-parameter -Werror -shared -fPIC -o "$sdk/libokFrontPanel.so" "$here/okFrontPanel_stub.c"
cd "$root"
export OK_FRONTPANEL_DIR="$sdk"
if [ "${1:-}" = "--test" ]; then
    LD_LIBRARY_PATH="$sdk${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        cargo test -p vassa-driver --features frontpanel --lib board::frontpanel
else
    cargo check -p vassa-driver --features frontpanel --all-targets
fi
