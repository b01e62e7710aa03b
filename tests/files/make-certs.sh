#!/bin/bash
# make-certs.sh — regenerate the test CA and the certificates the TLS tests present.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Needs certtool (gnutls-bin). The outputs are committed so the tests never generate keys;
# run this again only to change what the certificates say. Validity uses fixed dates so that a
# rerun describes the same certificates (keys and serials still change).

set -euo pipefail

cd "$(dirname "$0")"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ECDSA P-256: small, fast to handshake, and accepted by GnuTLS, OpenSSL and Python alike.
new_key() {
    certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text --outfile="$1"
}

# The dates the leaves share. The CA's own window starts earlier and ends later, so every
# leaf (even the expired one) falls inside it and only the leaf's dates decide validity.
leaf_dates='activation_date = "2024-01-01 00:00:00 UTC"
expiration_date = "2124-01-01 00:00:00 UTC"'

# Names and usage of a TLS server certificate for this machine's loopback.
localhost_names='cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
ip_address = "::1"
tls_www_server
signing_key'

# $1 = output name (without .pem); stdin = template. Signs with the test CA.
ca_signed() {
    cat > "$tmp/$1.tmpl"
    new_key "$1-key.pem"
    certtool --generate-certificate --no-text \
        --load-privkey="$1-key.pem" \
        --load-ca-certificate=ca.pem --load-ca-privkey=ca-key.pem \
        --template="$tmp/$1.tmpl" --outfile="$1.pem"
}

# The CA every test client trusts (and nothing else).
cat > "$tmp/ca.tmpl" <<TMPL
cn = "Dispatch Test CA"
organization = "Dispatch test suite"
ca
cert_signing_key
activation_date = "2000-01-01 00:00:00 UTC"
expiration_date = "2126-01-01 00:00:00 UTC"
TMPL
new_key ca-key.pem
certtool --generate-self-signed --no-text \
    --load-privkey=ca-key.pem --template="$tmp/ca.tmpl" --outfile=ca.pem

# The good server certificate: valid, right names, trusted issuer.
ca_signed server <<TMPL
$localhost_names
$leaf_dates
TMPL

# Trusted and current, but for another host: the client must reject it for localhost.
ca_signed wrong-host <<TMPL
cn = "wrong.example"
dns_name = "wrong.example"
tls_www_server
signing_key
$leaf_dates
TMPL

# Trusted and for localhost, but its validity ended in 2020.
ca_signed expired <<TMPL
cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
signing_key
activation_date = "2019-01-01 00:00:00 UTC"
expiration_date = "2020-01-01 00:00:00 UTC"
TMPL

# Right names and dates, but issued by itself: unknown to every client.
cat > "$tmp/self-signed.tmpl" <<TMPL
cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
signing_key
$leaf_dates
TMPL
new_key self-signed-key.pem
certtool --generate-self-signed --no-text \
    --load-privkey=self-signed-key.pem --template="$tmp/self-signed.tmpl" \
    --outfile=self-signed.pem

echo "Regenerated test certificates in $(pwd)"
