#!/usr/bin/env bash
# Runs nginx in front of windhover's example server, with a fresh CA, a
# server certificate for localhost and a client certificate for alice, all
# in a temporary directory removed on exit. Needs nginx, openssl and go.
#
#   examples/nginx/run.sh          # https://localhost:8443 (PORT=... to change)
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${PORT:-8443}
for cmd in nginx openssl go; do
  command -v "$cmd" >/dev/null || [[ -x /usr/sbin/$cmd ]] || { echo "run.sh: $cmd is not installed" >&2; exit 1; }
done
PATH=$PATH:/usr/sbin
dir=$(mktemp -d)
pids=()
# The server and nginx run in sessions of their own, so that Ctrl-C reaches
# only this script, which then stops each of them once: a second signal
# would make the server close at once instead of draining.
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# A CA, a server certificate and a client certificate (ECDSA P-256).
cert() { # name subject extensions signer...
  local name=$1 subj=$2 ext=$3
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/$name-key.pem" \
    -subj "$subj" -out "$dir/$name.csr" 2>/dev/null
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" -CAcreateserial \
    -days 1 -extfile <(printf '%s\n' "$ext") -out "$dir/$name.pem" 2>/dev/null
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/ca-key.pem" \
  -subj "/CN=windhover example CA" -days 1 -out "$dir/ca.pem" 2>/dev/null
cert server "/CN=localhost" "subjectAltName=DNS:localhost,DNS:app.localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
cert alice "/CN=alice" "extendedKeyUsage=clientAuth"

go build -o "$dir/server" ./examples/server
setsid "$dir/server" -addr "" -unix "$dir/app.sock" -trusted-proxies unix -client-ca "$dir/ca.pem" \
  -allowed-hosts "localhost;app.localhost" &
pids+=($!)

user=""
[[ $(id -u) == 0 ]] && user="user root;"
sed -e "s|@USER@|$user|" -e "s|@DIR@|$dir|g" -e "s|@SOCKET@|$dir/app.sock|" -e "s|@PORT@|$port|" \
  -e "s|@CERT@|$dir/server.pem|" -e "s|@KEY@|$dir/server-key.pem|" -e "s|@CLIENT_CA@|$dir/ca.pem|" \
  examples/nginx/nginx.conf.template >"$dir/nginx.conf"
setsid nginx -c "$dir/nginx.conf" -e "$dir/error.log" &
pids+=($!)

cat <<MSG
nginx on https://localhost:$port, in front of the example server on $dir/app.sock. Try:
  curl --cacert $dir/ca.pem https://localhost:$port/
  curl --cacert $dir/ca.pem --cert $dir/alice.pem --key $dir/alice-key.pem https://localhost:$port/whoami
  curl --cacert $dir/ca.pem https://localhost:$port/whoami                     # 403: no certificate
  curl --cacert $dir/ca.pem -H 'Host: evil.example' https://localhost:$port/   # 400: host not allowed
Ctrl-C stops both.
MSG
wait -n
