#!/bin/sh
# Makes, in DIR, what the TLS tests need: a test CA, a server certificate
# for localhost, 127.0.0.1 and ::1 signed by it, a client certificate signed
# by it, and a server certificate for another name (to fail the name check).
# EC P-256 keys, valid for two days: made fresh for every test run.
#   usage: scripts/make-test-certs.sh DIR
set -eu
dir=${1:?usage: make-test-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# signed NAME CN EXTENSIONS: NAME.key and NAME.pem, signed by the test CA
signed() {
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
    -days 2 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

key ca.key
openssl req -x509 -new -key ca.key -subj "/CN=dock test CA" -days 2 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
  -out ca.pem
signed server localhost "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
extendedKeyUsage=serverAuth"
signed client "dock test client" "extendedKeyUsage=clientAuth"
signed wrongname wrong.example "subjectAltName=DNS:wrong.example
extendedKeyUsage=serverAuth"
chmod 600 ./*.key
