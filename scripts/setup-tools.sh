#!/usr/bin/env bash
# Installs the hardware tools VASSA needs (Debian packages) when any is missing:
# Verilator, yosys, nextpnr-ice40, icestorm (icepack), Icarus Verilog, zlib's headers
# (FST traces: vassa-sim's `fst` feature) and libclang (bindgen, for the driver's `frontpanel`
# feature checked against host-driver/ok-sdk-stub).
# Idempotent: does nothing when everything is present.
set -euo pipefail

declare -A PACKAGE_OF=(
  [verilator]=verilator
  [yosys]=yosys
  [nextpnr-ice40]=nextpnr-ice40
  [icepack]=fpga-icestorm
  [iverilog]=iverilog
)

missing=()
for tool in "${!PACKAGE_OF[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${PACKAGE_OF[$tool]}")
done
[ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
compgen -G "/usr/lib/llvm-*/lib/libclang.so" >/dev/null || missing+=(libclang-dev)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup-tools: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

for tool in "${!PACKAGE_OF[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "setup-tools: $tool still missing" >&2; exit 1; }
done
