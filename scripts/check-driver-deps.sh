#!/usr/bin/env bash
# The host driver builds without the simulator: `vassa-driver`'s normal dependencies hold
# neither rust-hdl nor a crate that verilates the core (vassa-sim, vassa-rtl) nor the harness.
# A program for a real board must not pull in Verilator.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=$(cargo tree -p vassa-driver -e normal --prefix none)
bad=$(printf '%s\n' "$tree" | grep -E '^(rust-hdl[a-z-]*|vassa-(sim|rtl|model|harness)|verilator|cc) ' || true)
if [ -n "$bad" ]; then
    echo "vassa-driver depends on the simulator or rust-hdl:" >&2
    printf '%s\n' "$bad" | sort -u >&2
    exit 1
fi
echo "vassa-driver: $(printf '%s\n' "$tree" | sort -u | wc -l) crates, none of rust-hdl, the simulator or a C build"
