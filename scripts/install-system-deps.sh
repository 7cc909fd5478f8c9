#!/usr/bin/env bash
# Installs the Debian packages the tests and the lab need (real FRR, iproute2, user-mode Linux).
# Runs only as root; as another user it lists what is missing and leaves it to the caller
# (tests that need these then skip, saying why; in CI they fail instead).
set -euo pipefail

# systemd: systemd-analyze checks the units in deploy/systemd.
packages=(frr frr-pythontools iproute2 procps psmisc user-mode-linux systemd)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: not root, cannot install: ${missing[*]}" >&2
  [ "${CI:-}" = "true" ] && exit 1
  exit 0
fi

echo "install-system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian package enables and starts a system-wide FRR; our tests run their own instances.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now frr >/dev/null 2>&1 || true; fi
