#!/usr/bin/env bash
# The whole test suite, on a fresh machine too: installs/starts what the tests need, then cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
home="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
# A build directory outside the clone, so CI on a fresh clone reuses earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$home/.cache/retailgen/target}"
export PATH="$home/.cargo/bin:$PATH"
scripts/ensure-services.sh
cargo test --locked "$@"
