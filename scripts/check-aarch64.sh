#!/usr/bin/env bash
# Checks that the crate (library, binary, tests, benches) builds for
# aarch64 Linux: nothing x86-specific may sit outside `cfg(target_arch)`.
# Needs the aarch64 standard library (rustup) and a cross C compiler for
# mimalloc (Debian's gcc-aarch64-linux-gnu); installs both when it can.
# With --best-effort, a machine that cannot install them skips the check
# with a notice instead of failing.
set -euo pipefail
cd "$(dirname "$0")/.."
target=aarch64-unknown-linux-gnu
skip() {
  if [[ "${1:-}" == --best-effort ]]; then
    echo "check-aarch64: skipped: $2" >&2
    exit 0
  fi
  echo "check-aarch64: $2" >&2
  exit 1
}
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  rustup target add "$target" >/dev/null 2>&1 || skip "${1:-}" "cannot install the $target standard library (rustup target add $target)"
fi
if ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
  { apt-get update -qq && apt-get install -y -qq gcc-aarch64-linux-gnu; } >/dev/null 2>&1 \
    || skip "${1:-}" "cannot install gcc-aarch64-linux-gnu"
fi
RUSTFLAGS="-D warnings" cargo check --quiet --target "$target" --all-targets --target-dir target/aarch64
echo "check-aarch64: the crate builds for $target without warnings"
