#!/bin/sh
# Installs what FMU Gateway needs to build, test and run: the Debian 12
# packages, Node.js (the API contract tests) and the Node tools pinned in
# tools/package-lock.json. `deps.sh --bench` also installs wrk (make bench).
# The static archives of libicu-dev, liblzma-dev, zlib1g-dev and
# libstdc++-12-dev let fmugw-runner link libxml2 statically (src/CMakeLists.txt;
# without them it links dynamically and starts slower).
# Idempotent and fast when done: apt runs (`apt-get update` once, no
# recommends) only for missing packages, `npm ci` only when tools/node_modules
# is missing or older than the lock file.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)

PACKAGES="
  gcc make cmake pkg-config ca-certificates
  libzip-dev libxml2-dev libsundials-dev libcmocka-dev
  libjansson-dev libssl-dev libseccomp-dev
  libmicrohttpd-dev libsqlite3-dev libcurl4-openssl-dev
  libicu-dev liblzma-dev zlib1g-dev libstdc++-12-dev
  python3 python3-venv
"
for arg in "$@"; do
    case $arg in
    --bench) PACKAGES="$PACKAGES wrk" ;;
    *) echo "usage: deps.sh [--bench]" >&2; exit 2 ;;
    esac
done

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# Node.js >= 18.17 (Debian 12 has 18.19): any node on PATH will do.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    missing="$missing nodejs npm"
fi

if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
        exit 1
    fi
    echo "deps.sh: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
fi

# The Node tools (redocly, ajv, yaml), exactly as locked.
tools="$root/tools"
stamp="$tools/node_modules/.deps-stamp"
if [ ! -f "$stamp" ] || [ "$tools/package-lock.json" -nt "$stamp" ] || [ "$tools/package.json" -nt "$stamp" ]; then
    echo "deps.sh: npm ci --prefix tools"
    npm ci --prefix "$tools" --no-audit --no-fund
    touch "$stamp"
fi

# The TypeScript SDK (sdk/typescript) needs Node.js >= 20 (global fetch and
# web streams; Debian 12's nodejs is 18). When the node on PATH is older, the
# Node 20 build that npm ships inside the package node-linux-<arch> goes to
# /usr/local/lib/fmugw-node, linked as /usr/local/bin/node (first on PATH).
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
    case $(uname -m) in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) echo "deps.sh: Node.js >= 20 is needed; no package for $(uname -m)" >&2; exit 1 ;;
    esac
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps.sh: Node.js >= 20 is needed (run as root to install it)" >&2
        exit 1
    fi
    echo "deps.sh: installing Node.js 20 (npm package node-linux-$arch)"
    npm install --prefix /usr/local/lib/fmugw-node --no-save --no-audit --no-fund "node-linux-$arch@20.20.2"
    ln -sf "/usr/local/lib/fmugw-node/node_modules/node-linux-$arch/bin/node" /usr/local/bin/node
    hash -r
fi
# Its build tools (typescript, @types/node), exactly as locked (the test
# builds a copy with `npm ci --prefer-offline`: this fills npm's cache).
sdk="$root/sdk/typescript"
stamp="$sdk/node_modules/.deps-stamp"
if [ ! -f "$stamp" ] || [ "$sdk/package-lock.json" -nt "$stamp" ] || [ "$sdk/package.json" -nt "$stamp" ]; then
    echo "deps.sh: npm ci --prefix sdk/typescript"
    npm ci --prefix "$sdk" --no-audit --no-fund
    touch "$stamp"
fi
