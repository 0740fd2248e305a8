#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Throwaway PKI for the tests and the demo, made with the openssl command:
#   root CA -> intermediate CA -> leaves, and a delegated OCSP signer
#   (extendedKeyUsage OCSPSigning, id-pkix-ocsp-nocheck) issued by the
#   intermediate. Leaves (EC P-256, SAN NAME.test):
#     good     AIA OCSP http://127.0.0.1:18880/
#     revoked  same responder, marked revoked in index.txt
#     noaia    no AIA extension at all
#     down     AIA http://127.0.0.1:18881/ (a blackhole: accepts, never answers)
#     second   AIA http://127.0.0.1:18883/ (nothing listens) then :18880
#     offvh    AIA :18880, for a vhost with OCSPGuard Off
#     faulty   AIA http://127.0.0.1:18890/ (the fault responder)
#     dnsfail  AIA http://ocsp.invalid/ (a name that never resolves)
#     proxied  AIA http://ocsp.via-proxy.test:18880/ (only the test proxy
#              resolves that name: reachable through the proxy alone)
#     renewed  AIA :18890, like faulty: the certificate that replaces it
#     shortlived AIA http://127.0.0.1:18886/, valid one day (a short-lived
#              certificate; its test runs a responder giving 7-day answers)
#     mustaple AIA http://127.0.0.1:18895/ (a responder of its own, for the
#              browser test's outages), TLS Feature status_request
#              (OCSP must-staple), SAN also IP:127.0.0.1
# Responses made ahead for the fault responder (DER, for faulty):
#     wrong_cert.der  validly signed, but for the good leaf
#     expired.der     validly signed, nextUpdate two days ago (faketime)
#     badsig.der      for faulty, signed by an unrelated CA (stranger)
# For each leaf: NAME.key, NAME.crt, NAME.chain.pem (leaf + intermediate).
# index.txt is the openssl ca database the responder answers from.
# Usage: mkpki.sh OUTDIR
set -euo pipefail
out=${1:?usage: mkpki.sh OUTDIR}
mkdir -p "$out"
cd "$out"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

cat > ext.cnf <<'CNF'
[root]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[inter]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ocsp]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored
authorityKeyIdentifier = keyid
CNF

key root.key
openssl req -x509 -new -key root.key -subj "/O=OCSP Guard Test/CN=Test Root CA" \
    -days 3650 -sha256 -config /dev/null -extensions root -extfile ext.cnf \
    -out root.crt 2>/dev/null || \
openssl req -x509 -new -key root.key -subj "/O=OCSP Guard Test/CN=Test Root CA" \
    -days 3650 -sha256 -addext "basicConstraints=critical,CA:true" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out root.crt

key intermediate.key
openssl req -new -key intermediate.key -subj "/O=OCSP Guard Test/CN=Test Intermediate CA" -out intermediate.csr
openssl x509 -req -in intermediate.csr -CA root.crt -CAkey root.key -set_serial 0x1001 \
    -days 3650 -sha256 -extfile ext.cnf -extensions inter -out intermediate.crt 2>/dev/null

key ocsp.key
openssl req -new -key ocsp.key -subj "/O=OCSP Guard Test/CN=Test OCSP Signer" -out ocsp.csr
openssl x509 -req -in ocsp.csr -CA intermediate.crt -CAkey intermediate.key -set_serial 0x2001 \
    -days 3650 -sha256 -extfile ext.cnf -extensions ocsp -out ocsp.crt 2>/dev/null

# Extra lines for the next leaf's extension section (empty: none).
leaf_extra=""
leaf() {   # name serial aia...
    local name=$1 serial=$2; shift 2
    local aia=""
    for url in "$@"; do aia="${aia:+$aia,}OCSP;URI:$url"; done
    {
        echo "[leaf]"
        echo "basicConstraints = critical, CA:false"
        echo "keyUsage = critical, digitalSignature"
        echo "extendedKeyUsage = serverAuth"
        if [ -n "$leaf_extra" ]; then
            printf '%s\n' "$leaf_extra"
        else
            echo "subjectAltName = DNS:$name.test"
        fi
        echo "authorityKeyIdentifier = keyid"
        [ -n "$aia" ] && echo "authorityInfoAccess = $aia"
    } > "$name.cnf"
    key "$name.key"
    openssl req -new -key "$name.key" -subj "/O=OCSP Guard Test/CN=$name.test" -out "$name.csr"
    openssl x509 -req -in "$name.csr" -CA intermediate.crt -CAkey intermediate.key \
        -set_serial "$serial" -days "${leaf_days:-825}" -sha256 -extfile "$name.cnf" -extensions leaf \
        -out "$name.crt" 2>/dev/null
    cat "$name.crt" intermediate.crt > "$name.chain.pem"
}

leaf good    0x3001 http://127.0.0.1:18880/
leaf revoked 0x3002 http://127.0.0.1:18880/
leaf noaia   0x3003
leaf down    0x3004 http://127.0.0.1:18881/
leaf second  0x3005 http://127.0.0.1:18883/ http://127.0.0.1:18880/
leaf offvh   0x3006 http://127.0.0.1:18880/
leaf faulty  0x3007 http://127.0.0.1:18890/
leaf dnsfail 0x3008 http://ocsp.invalid/
leaf proxied 0x3009 http://ocsp.via-proxy.test:18880/
leaf renewed 0x300b http://127.0.0.1:18890/
leaf_days=1 leaf shortlived 0x300c http://127.0.0.1:18886/
# must-staple: a browser that sees no valid staple must refuse the page
leaf_extra="subjectAltName = DNS:mustaple.test, IP:127.0.0.1
tlsfeature = status_request"
leaf mustaple 0x300a http://127.0.0.1:18895/
leaf_extra=""

# openssl ca database: status, expiry, revocation time, serial, file, subject
: > index.txt
now=$(date -u +%y%m%d%H%M%SZ)
for name in good revoked noaia down second offvh faulty dnsfail proxied renewed shortlived mustaple; do
    serial=$(openssl x509 -in "$name.crt" -noout -serial | cut -d= -f2)
    end=$(openssl x509 -in "$name.crt" -noout -enddate | cut -d= -f2)
    end=$(date -u -d "$end" +%y%m%d%H%M%SZ)
    if [ "$name" = revoked ]; then
        printf 'R\t%s\t%s,keyCompromise\t%s\tunknown\t/O=OCSP Guard Test/CN=%s.test\n' \
            "$end" "$now" "$serial" "$name" >> index.txt
    else
        printf 'V\t%s\t\t%s\tunknown\t/O=OCSP Guard Test/CN=%s.test\n' \
            "$end" "$serial" "$name" >> index.txt
    fi
done
echo 'unique_subject = no' > index.txt.attr
rm -f ./*.csr

# An unrelated CA whose signature must never be accepted.
key stranger.key
openssl req -x509 -new -key stranger.key -subj "/O=Somebody Else/CN=Stranger CA" \
    -days 3650 -sha256 -out stranger.crt

ocsp_req() { openssl ocsp -issuer intermediate.crt -cert "$1.crt" -no_nonce -reqout "$1.req" >/dev/null 2>&1; }
ocsp_resp() {   # request-file response-file signer-cert signer-key [time-shift]
    ${5:+faketime "$5"} openssl ocsp -index index.txt -CA intermediate.crt \
        -rsigner "$3" -rkey "$4" -reqin "$1" -respout "$2" -ndays 1 >/dev/null 2>&1
}
ocsp_req good
ocsp_req faulty
ocsp_resp good.req wrong_cert.der ocsp.crt ocsp.key
ocsp_resp faulty.req badsig.der stranger.crt stranger.key
if command -v faketime >/dev/null; then
    ocsp_resp faulty.req expired.der ocsp.crt ocsp.key "3 days ago"
fi
