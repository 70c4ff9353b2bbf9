#!/usr/bin/env bash
# Idempotent: installs every Debian and PyPI package listed under scripts/packages/.
set -euo pipefail
cd "$(dirname "$0")/.."
apt_pkgs=$(cat scripts/packages/*.apt | sed 's/#.*//' | xargs)
missing=()
for p in $apt_pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
py=${RACKSWARM_SYSTEM_PYTHON:-/usr/bin/python3}
[ -x .venv/bin/python ] || "$py" -m venv .venv
pip_pkgs=$(cat scripts/packages/*.pip | sed 's/#.*//' | xargs)
stamp=".venv/.rackswarm-pip-$(echo "$pip_pkgs" | md5sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
    .venv/bin/pip install -q $pip_pkgs
    touch "$stamp"
fi
