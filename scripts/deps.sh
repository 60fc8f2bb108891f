#!/bin/sh
# Installs the Debian 12 packages FMU Gateway needs to build, test and run.
# Idempotent: does nothing when every package is already installed; otherwise
# runs `apt-get update` once and installs what is missing, without recommends.
set -eu

PACKAGES="
  gcc make cmake pkg-config ca-certificates
  libzip-dev libxml2-dev libsundials-dev libcmocka-dev
  libjansson-dev libssl-dev libseccomp-dev
  libmicrohttpd-dev libsqlite3-dev libcurl4-openssl-dev
"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
    exit 1
fi
echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
