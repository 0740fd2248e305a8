#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The fuzzers' fixed PKI, made once and committed so that every run (and
# every seed) uses the same certificates. TEST-ONLY: these private keys are
# public; nothing may ever trust this CA. EC P-256 keeps signing and
# verifying cheap per fuzz input. Valid for 100 years from when it was made.
#
#   ca        "OG Fuzz CA", the issuer of the fuzzed certificate
#   leaf      the certificate under test: two OCSP URLs in its AIA, must-staple
#   other     another leaf of the same CA (a response for it is wrong_cert)
#   ocsp      delegated responder (id-kp-OCSPSigning) issued by ca
#   noeku     issued by ca without id-kp-OCSPSigning (must not be trusted)
#   stranger  an unrelated self-signed CA
#
# Run from anywhere: bash fuzz/pki/make-pki.sh (overwrites the files).
set -euo pipefail
cd "$(dirname "$0")"
days=36500
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
ext=$(mktemp)
trap 'rm -f "$ext" ./*.csr ./*.srl' EXIT

cat > "$ext" <<'CONF'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
authorityInfoAccess = OCSP;URI:http://127.0.0.1:8888/,OCSP;URI:http://ocsp.fuzz.test/ocsp
tlsfeature = status_request
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[other]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
authorityInfoAccess = OCSP;URI:http://127.0.0.1:8888/
[ocsp]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
[noeku]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
CONF

for k in ca leaf other ocsp noeku stranger; do key "$k"; done
openssl req -new -x509 -key ca.key -subj "/O=OG Fuzz/CN=OG Fuzz CA" -days $days \
    -sha256 -set_serial 1 -config "$ext" -extensions ca -out ca.pem
openssl req -new -x509 -key stranger.key -subj "/O=OG Fuzz/CN=Stranger CA" -days $days \
    -sha256 -set_serial 2 -config "$ext" -extensions ca -out stranger.pem
serial=16
for name in leaf:leaf.fuzz.test other:other.fuzz.test ocsp:"OG Fuzz OCSP" noeku:"OG Fuzz not OCSP"; do
    n=${name%%:*} cn=${name#*:}
    openssl req -new -key "$n.key" -subj "/O=OG Fuzz/CN=$cn" -config "$ext" -out "$n.csr"
    openssl x509 -req -in "$n.csr" -CA ca.pem -CAkey ca.key -set_serial $serial \
        -days $days -sha256 -extfile "$ext" -extensions "$n" -out "$n.pem" 2>/dev/null
    serial=$((serial + 1))
done
# the responder's database (serials in hex): leaf good, other revoked
{
    printf 'V\t491231235959Z\t\t10\tunknown\t/O=OG Fuzz/CN=leaf.fuzz.test\n'
    printf 'R\t491231235959Z\t250101000000Z,keyCompromise\t11\tunknown\t/O=OG Fuzz/CN=other.fuzz.test\n'
} > index.txt
echo "made $(ls ./*.pem | wc -l) certificates in $(pwd)"
