#!/usr/bin/env bash
# Rebuilds the WebAssembly kernels from kernels_wasm/src/ into a temporary folder and fails when
# the committed modules (kernels_wasm/gen/) differ: the embedded module must match its sources.
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in emcc wat2wasm; do
  command -v "$tool" >/dev/null || { echo "check_wasm_kernels: $tool is not installed"; exit 1; }
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
deno run -A kernels_wasm/build.ts --out "$out"
status=0
for f in kernels.wasm gemm.wasm conv.wasm modules.ts; do
  if ! cmp -s "$out/$f" "kernels_wasm/gen/$f"; then
    echo "kernels_wasm/gen/$f differs from a build of its sources: run 'deno task build:kernels'"
    status=1
  fi
done
exit $status
