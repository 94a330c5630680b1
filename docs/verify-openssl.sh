#!/usr/bin/env bash
# Verify an acquire custody case with standard tools only: bash, jq, openssl, base64, sha256sum and
# coreutils. Nothing here uses acquire's code; docs/VERIFYING.md explains each step.
#
#   docs/verify-openssl.sh CASE-DIR PUBLIC-KEY.pem [TSA-ROOTS.pem]
#
# Prints one line per problem and exits 1 if there is any, 0 if everything holds.
set -uo pipefail

case_dir=${1:?usage: verify-openssl.sh CASE-DIR PUBLIC-KEY.pem [TSA-ROOTS.pem]}
pub=${2:?usage: verify-openssl.sh CASE-DIR PUBLIC-KEY.pem [TSA-ROOTS.pem]}
tsa_roots=${3:-}
type=application/vnd.in-toto+json
predicate=https://github.com/acquire-forensics/acquire/custody/v1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
problems=0
problem() { echo "PROBLEM: $*"; problems=$((problems + 1)); }

# The key hint: base64 SHA-256 of the public key's DER (SubjectPublicKeyInfo).
hint=$(openssl pkey -pubin -in "$pub" -outform DER | openssl dgst -sha256 -binary | base64)

# Checks an RFC 3161 time-stamp response (base64, from a bundle) over the signature in file $2.
check_tsr() {
  [ -n "$tsa_roots" ] || { problem "$3: carries a time-stamp but no TSA roots were given"; return; }
  printf '%s' "$1" | base64 -d > "$work/tsr"
  openssl ts -verify -in "$work/tsr" -data "$2" -CAfile "$tsa_roots" > /dev/null 2>&1 ||
    problem "$3: time-stamp does not verify"
}

# Checks a bundle holding a message signature over file $1 (checkpoints, manifests).
check_file_bundle() {
  local file=$1 bundle=$1.sigstore.json
  [ -f "$bundle" ] || { problem "$bundle: missing"; return; }
  [ "$(jq -r .verificationMaterial.publicKey.hint "$bundle")" = "$hint" ] || problem "$bundle: signed by another key"
  jq -r .messageSignature.signature "$bundle" | base64 -d > "$work/fsig"
  openssl dgst -sha256 -verify "$pub" -signature "$work/fsig" "$file" > /dev/null 2>&1 ||
    problem "$file: signature does not verify"
  for tsr in $(jq -r '.verificationMaterial.timestampVerificationData.rfc3161Timestamps[]?.signedTimestamp' "$bundle"); do
    check_tsr "$tsr" "$work/fsig" "$bundle"
  done
}

# RFC 6962 Merkle tree hash over leaf hashes leaves[lo..hi-1] (hex).
hex_bytes() { printf "$(printf '%s' "$1" | sed 's/../\\x&/g')"; }
mth() {
  local lo=$1 hi=$2 n=$(($2 - $1)) k=1
  if [ "$n" -eq 1 ]; then echo "${leaves[$lo]}"; return; fi
  while [ $((k * 2)) -lt "$n" ]; do k=$((k * 2)); done
  local left right
  left=$(mth "$lo" $((lo + k)))
  right=$(mth $((lo + k)) "$hi")
  { printf '\x01'; hex_bytes "$left"; hex_bytes "$right"; } | sha256sum | cut -c1-64
}

# 1. Records: signature over the DSSE pre-authentication encoding, payload type, seq and prev.
declare -a leaves
prev=0000000000000000000000000000000000000000000000000000000000000000
case_id=
n=0
for f in "$case_dir"/records/*.sigstore.json; do
  [ -e "$f" ] || { problem "no records"; break; }
  n=$((n + 1))
  name=$(basename "$f")
  [ "$name" = "$(printf '%010d.sigstore.json' "$n")" ] || problem "record $n: missing (next file is $name)"
  [ "$(jq -r .verificationMaterial.publicKey.hint "$f")" = "$hint" ] || problem "record $n: signed by another key"
  [ "$(jq -r .dsseEnvelope.payloadType "$f")" = "$type" ] || problem "record $n: payload type is not $type"
  [ "$(jq '.dsseEnvelope.signatures | length' "$f")" = 1 ] || problem "record $n: not exactly one signature"
  jq -r .dsseEnvelope.payload "$f" | base64 -d > "$work/payload"
  jq -r '.dsseEnvelope.signatures[0].sig' "$f" | base64 -d > "$work/sig"
  { printf 'DSSEv1 %d %s %d ' ${#type} "$type" "$(stat -c%s "$work/payload")"; cat "$work/payload"; } > "$work/pae"
  openssl dgst -sha256 -verify "$pub" -signature "$work/sig" "$work/pae" > /dev/null 2>&1 ||
    problem "record $n ($name): signature does not verify"
  [ "$(jq -r .predicateType "$work/payload")" = "$predicate" ] || problem "record $n: predicate type"
  [ "$(jq -r .predicate.seq "$work/payload")" = "$n" ] || problem "record $n: says it is record $(jq -r .predicate.seq "$work/payload")"
  [ "$(jq -r .predicate.prev "$work/payload")" = "$prev" ] || problem "record $n: prev does not match record $((n - 1))"
  id=$(jq -r .predicate.caseId "$work/payload")
  [ -z "$case_id" ] && case_id=$id
  [ "$id" = "$case_id" ] || problem "record $n: belongs to case $id, not $case_id"
  for tsr in $(jq -r '.verificationMaterial.timestampVerificationData.rfc3161Timestamps[]?.signedTimestamp' "$f"); do
    check_tsr "$tsr" "$work/sig" "record $n"
  done
  # 4. Artifacts the record captured: their SHA-256 now.
  while IFS=' ' read -r path digest; do
    [ -n "$path" ] || continue
    [ "$(sha256sum < "$case_dir/$path" 2>/dev/null | cut -c1-64)" = "$digest" ] || problem "$path: does not match record $n"
  done < <(jq -r '.subject[] | select(.annotations.kind == "artifact") | "\(.name) \(.digest.sha256)"' "$work/payload")
  prev=$(sha256sum < "$work/payload" | cut -c1-64)
  leaves[$((n - 1))]=$({ printf '\x00'; cat "$work/payload"; } | sha256sum | cut -c1-64)
done

# 2. Checkpoints: signature, and the Merkle root of the first <size> records.
for cp in "$case_dir"/checkpoints/*.checkpoint; do
  [ -e "$cp" ] || break
  check_file_bundle "$cp"
  [ "$(sed -n 1p "$cp")" = "acquire-custody/$case_id" ] || problem "$cp: origin is not this case"
  size=$(sed -n 2p "$cp")
  if [ "$size" -gt "$n" ]; then
    problem "$cp: covers $size records but only $n are present"
    continue
  fi
  want=$(sed -n 3p "$cp" | base64 -d | od -An -tx1 | tr -d ' \n')
  [ "$(mth 0 "$size")" = "$want" ] || problem "$cp: Merkle root of the first $size records differs"
done

# 3. Manifests: signature, then every file they list.
for m in "$case_dir"/manifests/[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9].json; do
  [ -e "$m" ] || break
  check_file_bundle "$m"
  while IFS=' ' read -r path digest; do
    [ "$(sha256sum < "$case_dir/$path" 2>/dev/null | cut -c1-64)" = "$digest" ] || problem "$path: differs from $(basename "$m")"
  done < <(jq -r '.files[] | "\(.path) \(.sha256)"' "$m")
done

if [ "$problems" -gt 0 ]; then
  echo "FAILED: $problems problems in case $case_id ($n records)"
  exit 1
fi
echo "OK: case $case_id, $n records, key $hint"
