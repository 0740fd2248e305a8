#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Regenerates the seed corpora in fuzz/corpus/<target>/ from the fixed PKI
# (fuzz/pki). The OCSP responses come from a real responder: `openssl ocsp`
# answering requests from its index (-reqin/-respout, no network), run under
# faketime at 2026-01-01 00:00:00 UTC for ten years (-ndays 3650), so that
# they are valid at the fuzzers' fixed "now" (2026-06-01) every time.
# Needs openssl, faketime and perl (all in the Makefile's DEB_PKGS).
set -euo pipefail
cd "$(dirname "$0")"
pki=pki
out=corpus
at='2026-01-01 00:00:00'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for t in validate validate_signed record statefile cert fetch_body parse event_json; do
    rm -rf "${out:?}/$t"
    mkdir -p "$out/$t"
done

# --- responses from openssl ocsp ------------------------------------------
# request for the leaf (SHA-1 CertID, no nonce: what the module sends)
openssl ocsp -issuer $pki/ca.pem -cert $pki/leaf.pem -no_nonce -reqout "$tmp/leaf.req" >/dev/null
openssl ocsp -issuer $pki/ca.pem -cert $pki/leaf.pem -reqout "$tmp/leaf-nonce.req" >/dev/null
openssl ocsp -issuer $pki/ca.pem -sha256 -cert $pki/leaf.pem -no_nonce -reqout "$tmp/leaf-sha256.req" >/dev/null
openssl ocsp -issuer $pki/ca.pem -cert $pki/other.pem -no_nonce -reqout "$tmp/other.req" >/dev/null
openssl ocsp -issuer $pki/ca.pem -cert $pki/leaf.pem -cert $pki/other.pem -no_nonce -reqout "$tmp/both.req" >/dev/null
openssl ocsp -issuer $pki/ca.pem -cert $pki/ocsp.pem -no_nonce -reqout "$tmp/unknown.req" >/dev/null

respond() {   # name request signer [extra openssl ocsp options]
    local name=$1 req=$2 signer=$3
    shift 3
    faketime "$at" openssl ocsp -index $pki/index.txt -CA $pki/ca.pem \
        -rsigner "$pki/$signer.pem" -rkey "$pki/$signer.key" -ndays 3650 \
        -reqin "$tmp/$req.req" -respout "$out/validate/$name.der" "$@" >/dev/null 2>&1
}
respond ca-good             leaf        ca
respond delegated-good      leaf        ocsp
respond ca-good-nocerts     leaf        ca   -resp_no_certs
respond ca-good-keyid       leaf        ca   -resp_key_id
respond ca-good-nonce       leaf-nonce  ca
respond ca-good-sha256-id   leaf-sha256 ca
respond ca-two-certs        both        ca
respond ca-other-revoked    other       ca
respond ca-unknown          unknown     ca
respond noeku-signed        leaf        noeku
respond stranger-signed     leaf        stranger
respond ca-good-short       leaf        ca   -nmin 5
# error statuses: OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED }
for s in 1 2 3 5 6; do
    printf '\x30\x03\x0a\x01'"\\x0$s" > "$out/validate/status-$s.der"
done
printf '<html>503 Service Unavailable</html>' > "$out/validate/html.der"

# --- records (the cache and state-dir format) around those responses -------
sha1=$(openssl x509 -in $pki/leaf.pem -outform DER | openssl dgst -sha1 -r | cut -c1-40)
record() {   # der status source > record
    perl -e '
        my ($der, $st, $src, $sha1) = @ARGV;
        open my $fh, "<:raw", $der or die; local $/; my $d = <$fh>;
        my $t = 1767225600 * 1000000;               # 2026-01-01, microseconds
        my $n = $t + 3650 * 86400 * 1000000;
        print "OGR1", pack("CCCC", 1, $st, $src, 0), pack("H40", $sha1),
              pack("Q>Q>Q>", $t, $n, $t + 1234), pack("NN", length $d, 0), $d;
    ' "$1" "$2" "$3" "$sha1"
}
for r in ca-good delegated-good ca-good-nocerts ca-other-revoked stranger-signed status-3; do
    record "$out/validate/$r.der" 0 0 > "$out/record/$r.rec"
    cp "$out/record/$r.rec" "$out/statefile/$r.rec"
done
record "$out/validate/ca-good.der" 1 3 > "$out/record/revoked-statedir.rec"
printf 'OGR1' > "$out/record/magic-only.rec"
printf 'this is not a record\n' > "$out/statefile/garbage.rec"

# --- validate_signed: field descriptions (see fuzz/fuzz_validate_signed.c) --
# byte 0: response status; 1: signer; 2: flags; 3: number of SingleResponses;
# then per SingleResponse: certid kind, tweak, status, reason, time choices.
printf '\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00' > "$out/validate_signed/ca-good"
printf '\x00\x01\x01\x01\x00\x00\x00\x00\x00\x00' > "$out/validate_signed/delegated-good"
printf '\x00\x00\x00\x01\x00\x00\x01\x01\x00\x00' > "$out/validate_signed/revoked"
printf '\x00\x00\x00\x02\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' > "$out/validate_signed/two"
printf '\x00\x02\x00\x01\x00\x00\x00\x00\x00\x00' > "$out/validate_signed/noeku"
printf '\x00\x00\x00\x01\x00\x00\x00\x00\x03\x05' > "$out/validate_signed/times"
printf '\x03' > "$out/validate_signed/trylater"
printf '\x00\x00\x80\x01\x00\x00\x00\x00\x00\x00' > "$out/validate_signed/no-basic"

# --- cert: mode byte, then the material (see fuzz/fuzz_cert.c) -------------
{ printf '\x00'; cat $pki/leaf.pem $pki/ca.pem; } > "$out/cert/pem-leaf-ca"
{ printf '\x00'; cat $pki/other.pem $pki/ca.pem; } > "$out/cert/pem-other-ca"
{ printf '\x00'; cat $pki/leaf.pem $pki/stranger.pem; } > "$out/cert/pem-wrong-issuer"
{ printf '\x00'; cat $pki/ca.pem; } > "$out/cert/pem-one"
{ printf '\x01'; openssl x509 -in $pki/leaf.pem -outform DER; } > "$out/cert/der-leaf"
# AIA and TLS Feature extension values as the leaf carries them
openssl x509 -in $pki/leaf.pem -outform DER > "$tmp/leaf.der"
extval() {   # the DER value of the leaf's extension named $1
    openssl asn1parse -inform DER -in "$tmp/leaf.der" \
        | awk -v name="$1" 'index($0, name) { getline; sub(/.*HEX DUMP\]:/, ""); print; exit }' \
        | xxd -r -p
}
{ printf '\x02\x00'; extval 'Authority Information Access'; } > "$out/cert/ext-aia"
{ printf '\x02\x01'; extval 'TLS Feature'; } > "$out/cert/ext-tlsfeature"
printf '\x02\x01\x30\x03\x02\x01\x05' > "$out/cert/ext-must-staple"
printf '\x02\x01\x30\x06\x02\x01\x05\x02\x01\x11' > "$out/cert/ext-two-features"

# --- fetch_body: cap (2 bytes), status (2 bytes), then chunk sizes and data -
printf '\x10\x00\x00\xc8\x00\x10AAAAAAAAAAAAAAAA' > "$out/fetch_body/ok"
printf '\x00\x10\x00\xc8\x00\x20BBBB' > "$out/fetch_body/over"
printf '\x10\x00\x01\xf4' > "$out/fetch_body/http500-empty"

# --- parse: parser selector, bounds, then the argument ----------------------
printf '\x00\x05\x5f50%%' > "$out/parse/percent"
printf '\x01\x00\x00\x04\x00\x00\x10\x00\x0016K' > "$out/parse/size"
printf '\x01\x00\x00\x04\x00\x00\x10\x00\x0018014398509481985K' > "$out/parse/size-bug2"
printf '\x02\x00\x00\x00\x64\x00\x04\x93\xe0500ms' > "$out/parse/duration"
printf '\x03https://ocsp.example.com:8443/x' > "$out/parse/url"

# --- event_json: fields split at NUL bytes ----------------------------------
printf 'CN=www.example.com\x003001\x00http://ocsp.example/\x00www.example.com:443\x00HTTP status 503' > "$out/event_json/ascii"
printf 'CN=\xc3\xa9t\xc3\xa9\x00\x00http://\xff.example/\x00a\xe2\x80\xa8b\x00\xf0\x9f\x98\x80 \xed\xa0\x80' > "$out/event_json/utf8"
printf 'q"\\\n\t\x01\x7f' > "$out/event_json/controls"

n=$(find "$out" -type f | wc -l)
echo "wrote $n seed files under $(pwd)/$out"
