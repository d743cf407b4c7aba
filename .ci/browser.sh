#!/usr/bin/env bash
# The explorer in a real browser: headless Chromium (Debian's package) driven over the DevTools
# protocol by `cargo xtask browser-test`. Installs Chromium when it is missing; the screenshots
# land in target/browser-test/*.png.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
    echo "== installing chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y chromium
fi
/usr/bin/chromium --version || true
echo "== cargo xtask browser-test"
cargo xtask browser-test --chromium /usr/bin/chromium
