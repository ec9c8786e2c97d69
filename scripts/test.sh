#!/usr/bin/env bash
# The whole test suite, on a fresh machine too: installs/starts what the tests need, then cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retailgen/target}"
export PATH="$HOME/.cargo/bin:$PATH"
scripts/ensure-services.sh
cargo test --locked "$@"
