#!/usr/bin/env bash
# CI for the Python package klfit (crates/kl-py): a fresh venv, `pip install ./crates/kl-py
# pytest numpy`, the release CLI (for the trace-identity tests), pytest. See crates/kl-py/ci.sh.
set -euo pipefail
exec "$(dirname "$0")/../crates/kl-py/ci.sh" "$@"
