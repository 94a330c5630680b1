#!/usr/bin/env bash
# The demo (make demo): on the cloud range, acquire a compromised web server on AWS into an isolated
# forensic account, verify the case with acquire and with openssl alone, compare the evidence digests
# with the disks themselves, and watch verification name a record changed by one byte; then acquire the
# server's Google Cloud twin into a forensic project and its Azure twin into a forensic subscription, and
# compare their digests with the disks too (and export the Azure evidence).
set -euo pipefail

acquire=${ACQUIRE:-bin/acquire}
cloudsim=${CLOUDSIM:-bin/cloudsim}
out=${DEMO_OUT:-out/demo}
scenario=${SCENARIO:-testdata/scenarios/compromised-web-server.json}
images=${IMAGES:-testdata/scenarios/images}
caseid=IR-2026-0042
case_dir=$out/$caseid

bold=""; reset=""
if [ -t 1 ] && [ -z "${CI:-}" ]; then bold=$'\033[1m'; reset=$'\033[0m'; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$reset"; }

rm -rf "$out"
mkdir -p "$out"
[ -f "$images/web-root.img" ] && [ -f "$images/web-data.img" ] || scripts/make-images.sh "$images"

step "1. The cloud range: a compromised web server in account 111111111111, a forensic account 222222222222"
"$cloudsim" --scenario "$scenario" --state-dir "$out/range" > "$out/cloudsim.log" 2>&1 &
range=$!
trap 'kill "$range" 2>/dev/null; wait "$range" 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q 'cloudsim: ready' "$out/cloudsim.log" 2>/dev/null && break; sleep 0.1; done
grep -q 'cloudsim: ready' "$out/cloudsim.log" || { cat "$out/cloudsim.log" >&2; echo "demo: the range did not start" >&2; exit 1; }
sed 's/^/  /' "$out/cloudsim.log"
set -a
. "$out/range/cloudsim.env" # endpoint, AWS config and credentials files, profiles "workload" and "forensics"
set +a
export ACQUIRE_PASSWORD=demo-password ACQUIRE_OPERATOR="demo responder <responder@example.org>"

step "2. A custody signing key (ECDSA P-256, encrypted, mode 0600)"
"$acquire" keygen --out "$out/custody"

step "3. What acquire will do, and the permissions it needs (dry run)"
"$acquire" aws --dry-run --instance i-0c0ffee0000000001 --forensic-account 222222222222 \
  --forensic-profile forensics --forensic-kms-key alias/evidence | sed -n '1,40p'

step "4. Acquire the web server: snapshot, move to the forensic account, copy, digest, clean up, seal"
"$acquire" aws --case "$case_dir" --case-id "$caseid" --instance i-0c0ffee0000000001 \
  --forensic-account 222222222222 --forensic-profile forensics --forensic-kms-key alias/evidence \
  --key "$out/custody.key" --ticket "$caseid" --justification "web shell found on web-1; preservation ordered" \
  --approver "ciso@example.org" --poll-interval 250ms
cp "$case_dir"/checkpoints/*.checkpoint "$out/checkpoint-held-by-counsel"

step "5. Nothing left shared in the compromised account"
aws --endpoint-url "$AWS_ENDPOINT_URL" ec2 describe-snapshots --owner-ids self \
  --query 'Snapshots[].[SnapshotId,VolumeId,Tags[?Key==`acquire:role`]|[0].Value]' --output text 2>/dev/null |
  while read -r snap vol role; do
    perms=$(aws --endpoint-url "$AWS_ENDPOINT_URL" ec2 describe-snapshot-attribute --snapshot-id "$snap" \
      --attribute createVolumePermission --query 'length(CreateVolumePermissions)' --output text)
    echo "  $snap ($role of $vol): shared with $perms accounts"
  done || echo "  (the AWS CLI is not installed: skipped)"

step "6. Verify the case, with acquire and with openssl alone"
"$acquire" verify "$case_dir" --key "$out/custody.pub" --checkpoint "$out/checkpoint-held-by-counsel"
docs/verify-openssl.sh "$case_dir" "$out/custody.pub"

step "7. The evidence digests against the disks themselves (sha256sum of the range's images)"
for pair in vol-0c0ffee0000000001:web-root vol-0c0ffee0000000002:web-data; do
  vol=${pair%%:*}
  recorded=$("$acquire" custody show "$case_dir" -o json |
    jq -r --arg v "$vol" 'select(.type == "record" and .predicate.action == "evidence") | .subjects[] | select(.annotations.sourceVolume == $v) | .digest.sha256')
  actual=$(sha256sum "$images/${pair#*:}.img" | cut -c1-64)
  verdict=MATCH; [ "$recorded" = "$actual" ] || verdict=MISMATCH
  echo "  $vol  recorded $recorded"
  echo "  $(printf '%*s' ${#vol} '')  sha256sum $actual  $verdict"
  [ "$verdict" = MATCH ] || exit 1
done

step "8. One byte of record 5 changed: verification names it"
tampered=$out/$caseid-tampered
cp -r "$case_dir" "$tampered"
chmod -R u+w "$tampered"
rec=$tampered/records/0000000005.sigstore.json
offset=$(( $(grep -bo '"payload":"' "$rec" | head -1 | cut -d: -f1) + 60 ))
byte=$(dd if="$rec" bs=1 skip="$offset" count=1 2>/dev/null)
new=A; [ "$byte" = A ] && new=B
printf '%s' "$new" | dd of="$rec" bs=1 seek="$offset" conv=notrunc 2>/dev/null
set +e
"$acquire" verify "$tampered" --key "$out/custody.pub" | sed -n '1,12p'
code=${PIPESTATUS[0]}
set -e
echo "  exit code $code (10: verification failed)"
[ "$code" = 10 ] || { echo "demo: expected exit code 10" >&2; exit 1; }

step "9. Hand-off to the analyst: export the root volume, verified, and look at what the attacker left"
"$acquire" export "$case_dir" --item vol-0c0ffee0000000001 --out "$out/export" --key "$out/custody.key" \
  --forensic-profile forensics --operator "J. Smith <jsmith@example.org>"
(cd "$out/export" && sha256sum -c ./*.raw.sha256)
if command -v fls >/dev/null; then
  echo "  fls (sleuthkit) on the exported image:"
  fls -r "$out"/export/*.raw | grep -E 'shell\.php|sysupdate|authorized_keys|miner' | sed 's/^/    /'
else
  echo "  (install sleuthkit to list the file system with fls)"
fi
"$acquire" custody show "$case_dir" | tail -n 3   # export recorded the export and sealed the case again

step "10. The report for counsel: summary, timeline, evidence, verification, certification support"
"$acquire" report "$case_dir" --key "$out/custody.pub" --checkpoint "$out/checkpoint-held-by-counsel" --out "$out/report.html"
"$acquire" report "$case_dir" --key "$out/custody.pub" --checkpoint "$out/checkpoint-held-by-counsel" --out "$out/report.md"
sed -n '1,12p' "$out/report.md"
echo "  ... the whole report: $out/report.md and $out/report.html"

step "11. Google Cloud: the same web server's twin in project acme-web-prod, snapshotted straight into acme-forensics"
gcp_case=$out/$caseid-gcp
"$acquire" gcp --case "$gcp_case" --case-id "$caseid-GCP" --project acme-web-prod --zone us-central1-a --instance web-1 \
  --forensic-project acme-forensics --image-bucket acme-forensics-evidence \
  --forensic-kms-key projects/acme-forensics/locations/us-central1/keyRings/evidence/cryptoKeys/snapshots \
  --credentials "$CLOUDSIM_GCP_RESPONDER_KEY_FILE" --endpoint "$CLOUDSIM_GCP_ENDPOINT" \
  --key "$out/custody.key" --ticket "$caseid" --justification "web shell found on web-1; preservation ordered" \
  --poll-interval 250ms
"$acquire" verify "$gcp_case" --key "$out/custody.pub" | head -n 5

step "12. The GCP evidence digests (computed by a worker VM in the forensic project) against the disks themselves"
for pair in web-1:web-root web-1-data:web-data; do
  disk=${pair%%:*}
  vol=projects/acme-web-prod/zones/us-central1-a/disks/$disk
  recorded=$("$acquire" custody show "$gcp_case" -o json |
    jq -r --arg v "$vol" 'select(.type == "record" and .predicate.action == "evidence") | .subjects[] | select(.annotations.sourceVolume == $v) | .digest.sha256')
  actual=$(sha256sum "$images/${pair#*:}.img" | cut -c1-64)
  verdict=MATCH; [ "$recorded" = "$actual" ] || verdict=MISMATCH
  echo "  $disk  recorded  $recorded"
  echo "  $(printf '%*s' ${#disk} '')  sha256sum $actual  $verdict"
  [ "$verdict" = MATCH ] || exit 1
done
# Compute Engine cannot read a snapshot's blocks: the workers also wrote each raw image to the image
# bucket, and the export reads it from there, as the examiner (read-only on the bucket).
"$acquire" export "$gcp_case" --item projects/acme-web-prod/zones/us-central1-a/disks/web-1 --out "$out/export-gcp" \
  --key "$out/custody.key" --endpoint "$CLOUDSIM_GCP_ENDPOINT" --forensic-credentials "$CLOUDSIM_GCP_EXAMINER_KEY_FILE"
(cd "$out/export-gcp" && sha256sum -c ./*.raw.sha256)
if command -v fls >/dev/null; then
  echo "  fls (sleuthkit) on the image exported from Google Cloud:"
  fls -r "$out"/export-gcp/*.raw | grep -E 'shell\.php|sysupdate|authorized_keys|miner' | sed 's/^/    /'
fi

step "13. The same web server on Azure: full snapshots straight into the forensic subscription"
az_case=$out/$caseid-azure
az_src=3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b01
az_forensic=3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b02
az_flags=(--subscription "$az_src" --resource-group rg-web --vm web-1
  --forensic-subscription "$az_forensic" --forensic-resource-group rg-evidence --forensic-disk-encryption-set des-evidence
  --endpoint "$CLOUDSIM_AZURE_ARM_ENDPOINT" --ca-file "$out/range/azure/ca.pem")
"$acquire" azure --case "$az_case" --case-id "$caseid-azure" "${az_flags[@]}" --key "$out/custody.key" --ticket "$caseid"
"$acquire" verify "$az_case" --key "$out/custody.pub" | head -n 5
for pair in web-1-os:web-root web-1-data:web-data; do
  disk=/subscriptions/$az_src/resourceGroups/rg-web/providers/Microsoft.Compute/disks/${pair%%:*}
  recorded=$("$acquire" custody show "$az_case" -o json |
    jq -r --arg v "$disk" 'select(.type == "record" and .predicate.action == "evidence") | .subjects[] | select(.annotations.sourceVolume == $v) | .digest.sha256')
  actual=$(sha256sum "$images/${pair#*:}.img" | cut -c1-64)
  verdict="MATCH"; [ "$recorded" = "$actual" ] || verdict="DIFFERENT"
  echo "  ${pair%%:*}  recorded  $recorded"
  echo "  ${pair%%:*}  sha256sum $actual  $verdict"
  [ "$verdict" = MATCH ]
done
"$acquire" export "$az_case" --item "/subscriptions/$az_src/resourceGroups/rg-web/providers/Microsoft.Compute/disks/web-1-os" \
  --out "$out/export-azure" --key "$out/custody.key" --endpoint "$CLOUDSIM_AZURE_ARM_ENDPOINT" --ca-file "$out/range/azure/ca.pem" \
  --forensic-default-credential
(cd "$out/export-azure" && sha256sum -c ./*.raw.sha256)
if command -v fls >/dev/null; then
  echo "  fls (sleuthkit) on the image exported from Azure:"
  fls -r "$out"/export-azure/*.raw | grep -E 'shell\.php|sysupdate|authorized_keys|miner' | sed 's/^/    /'
fi

step "Done"
cat <<EOF2
The case is in $case_dir, the forensic copies in account 222222222222 of the range, the report in
$out/report.html; the Google Cloud case is in $gcp_case, its evidence in project acme-forensics; the Azure
case is in $az_case, its evidence in subscription $az_forensic.
An auditor verifies it with:
  acquire verify $case_dir --key $out/custody.pub --checkpoint $out/checkpoint-held-by-counsel
or with standard tools only:
  docs/verify-openssl.sh $case_dir $out/custody.pub
EOF2
