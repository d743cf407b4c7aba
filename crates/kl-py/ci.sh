#!/usr/bin/env bash
# CI for the Python package: a fresh venv, `pip install ./crates/kl-py pytest numpy` (maturin
# builds the wheel), the command line built once for the trace-identity tests, then pytest.
# Exits non-zero on any failure, "no tests collected" (pytest's exit 5) included.
# VENV (default: a temporary folder, removed afterwards) and PYTHON (default python3) may be set;
# KLFIT_CLI, a built `forward-backward-kl`, skips its build. Both cargo builds (maturin's and the
# CLI's) use CARGO_TARGET_DIR (default: the workspace's target/), so after the rest of CI has
# built the release profile (`cargo bench -- --test`) little is left to compile.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$SECONDS
step() { echo "== kl-py: $* ($((SECONDS - start)) s)"; }

PYTHON=${PYTHON:-python3}
if [[ -z "${VENV:-}" ]]; then
    VENV=$(mktemp -d "${TMPDIR:-/tmp}/kl-py-venv.XXXXXX")
    trap 'rm -rf "$VENV"' EXIT
fi

step "$PYTHON -m venv $VENV"
"$PYTHON" -m venv "$VENV"
step "pip install ./crates/kl-py pytest numpy"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check ./crates/kl-py pytest numpy
if [[ -z "${KLFIT_CLI:-}" ]]; then
    step "cargo build --release --bin forward-backward-kl (for the trace-identity tests)"
    cargo build --release --quiet --bin forward-backward-kl
    export KLFIT_CLI="${CARGO_TARGET_DIR:-$PWD/target}/release/forward-backward-kl"
fi
step "pytest crates/kl-py/tests"
status=0
(cd crates/kl-py && "$VENV/bin/python" -m pytest -q -p no:cacheprovider --durations=5 tests) || status=$?
if [[ $status -eq 5 ]]; then
    echo "kl-py: pytest collected no tests" >&2
    exit 1
fi
step "done (pytest exit $status)"
exit "$status"
