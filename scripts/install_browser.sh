#!/usr/bin/env bash
# Installs Debian's chromium and chromium-driver for the end-to-end tests, when this machine allows it.
# It never fails the build: where it cannot install, it says why and the browser tests skip themselves.
set -u
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "browser tests: no apt-get here, so Chromium cannot be installed; the e2e tests will be skipped."
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "browser tests: installing Chromium needs root (apt-get install chromium chromium-driver);"
    echo "               the e2e tests will be skipped until it is installed."
    exit 0
fi
echo "browser tests: installing chromium and chromium-driver with apt-get ..."
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-liberation; } >/tmp/layercraft-apt.log 2>&1; then
    echo "browser tests: apt-get could not install Chromium (see /tmp/layercraft-apt.log); the e2e tests will be skipped."
fi
exit 0
