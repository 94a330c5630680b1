#!/usr/bin/env bash
# The custody demo: a key, a case with a few custody events, a seal, verification with acquire and
# with openssl alone, then one tampered byte and the verdict naming the record. Run by `make demo`.
set -euo pipefail

acquire=${ACQUIRE:-bin/acquire}
out=${DEMO_OUT:-out/demo}
rm -rf "$out"
mkdir -p "$out"
export ACQUIRE_PASSWORD=demo-password ACQUIRE_OPERATOR="demo analyst <analyst@example.org>"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. A custody signing key (ECDSA P-256; the private key is encrypted, mode 0600)"
"$acquire" keygen --out "$out/custody"

step "2. A case, and what people and tools did with the evidence"
case_dir=$out/IR-2026-0042
"$acquire" custody init "$case_dir" --key "$out/custody.key" --case-id IR-2026-0042 \
  --ticket IR-2026-0042 --justification "web server compromise, preservation ordered" --approver "ciso@example.org"
cat > "$out/instance.json" <<'JSON'
{"InstanceId": "i-0a1b2c3d4e5f67890", "Region": "eu-west-1", "Volumes": ["vol-0root", "vol-0data"], "IamInstanceProfile": "web-server"}
JSON
"$acquire" custody log "$case_dir" --key "$out/custody.key" --action capture.config \
  --note "instance description captured" --attach "$out/instance.json" --ticket IR-2026-0042
"$acquire" custody log "$case_dir" --key "$out/custody.key" --action transfer \
  --note "image copy handed to J. Smith, forensic lab 2" --detail to="J. Smith" --ticket IR-2026-0042
"$acquire" custody log "$case_dir" --key "$out/custody.key" --action receipt \
  --note "received, seal #4471 intact" --operator "J. Smith <jsmith@example.org>"
"$acquire" custody log "$case_dir" --key "$out/custody.key" --action analysis.start --note "timeline analysis"

step "3. Seal: a seal record, a signed checkpoint (C2SP signed note) and a signed manifest"
"$acquire" custody seal "$case_dir" --key "$out/custody.key"
cp "$case_dir"/checkpoints/*.checkpoint "$out/checkpoint-held-elsewhere"

step "4. The case's history"
"$acquire" custody show "$case_dir"

step "5. Verify with acquire, against the public key"
"$acquire" verify "$case_dir" --key "$out/custody.pub" --checkpoint "$out/checkpoint-held-elsewhere"

step "6. Verify with standard tools only (jq, openssl, sha256sum): docs/verify-openssl.sh"
docs/verify-openssl.sh "$case_dir" "$out/custody.pub"

step "7. One byte of record 3 changed: verify names the record"
tampered=$out/IR-2026-0042-tampered
cp -r "$case_dir" "$tampered"
chmod -R u+w "$tampered"
rec=$tampered/records/0000000003.sigstore.json
# Change one character of the signed payload (base64) in place.
offset=$(grep -bo '"payload":"' "$rec" | head -1 | cut -d: -f1)
offset=$((offset + 40))
byte=$(dd if="$rec" bs=1 skip="$offset" count=1 2>/dev/null)
new=A; [ "$byte" = A ] && new=B
printf '%s' "$new" | dd of="$rec" bs=1 seek="$offset" conv=notrunc 2>/dev/null
echo "changed byte $offset of $rec: '$byte' -> '$new'"
set +e
"$acquire" verify "$tampered" --key "$out/custody.pub"
code=$?
set -e
echo "exit code: $code (10 = verification failed)"
[ "$code" = 10 ] || { echo "demo: expected exit code 10" >&2; exit 1; }

step "Done"
cat <<EOF2
The case is in $case_dir. An auditor checks it with:
  acquire verify $case_dir --key $out/custody.pub
or without acquire at all:
  docs/verify-openssl.sh $case_dir $out/custody.pub
(docs/VERIFYING.md has the cosign and step-by-step openssl routes.)
EOF2
