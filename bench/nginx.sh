#!/bin/sh
# Starts the benchmark's nginx in the foreground on 127.0.0.1:PORT (default 8088), for
# `bench.ts --url=http://127.0.0.1:PORT/small` or for wrk. Ctrl-C stops it.
#   sh bench/nginx.sh [PORT]
set -eu
PORT="${1:-8088}"
ROOT="$(mktemp -d /tmp/wirefetch-nginx.XXXXXX)"
trap 'rm -rf "$ROOT"' EXIT INT TERM
mkdir -p "$ROOT/tmp"
head -c 67108864 /dev/zero > "$ROOT/big.bin"
sed -e "s|@PORT@|$PORT|g" -e "s|@ROOT@|$ROOT|g" "$(dirname "$0")/nginx.conf" > "$ROOT/nginx.conf"
echo "nginx on http://127.0.0.1:$PORT/small and /big (root $ROOT)"
nginx -p "$ROOT" -c "$ROOT/nginx.conf" -e stderr
