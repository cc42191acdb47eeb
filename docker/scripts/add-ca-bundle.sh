#!/bin/sh
# add-ca-bundle.sh DIR: append every PEM file (*.crt, *.pem) under DIR to the system CA bundle.
# Used by the edgenas Dockerfiles for the CA_BUNDLE build argument (TLS-intercepting proxies).
set -eu
dir="$1"
bundle=/etc/ssl/certs/ca-certificates.crt
if [ ! -f "$bundle" ]; then
  echo "add-ca-bundle: $bundle missing: the base image needs the ca-certificates package" >&2
  exit 1
fi
n=0
for f in $(find "$dir" -type f \( -name '*.crt' -o -name '*.pem' \) | sort); do
  if ! grep -q -- '-----BEGIN CERTIFICATE-----' "$f"; then
    echo "add-ca-bundle: $f holds no PEM certificate: pass a PEM file (openssl x509 -inform der -in X -out X.pem)" >&2
    exit 1
  fi
  { echo; cat "$f"; } >> "$bundle"
  n=$((n + 1))
done
echo "add-ca-bundle: added $n file(s) from CA_BUNDLE" >&2
