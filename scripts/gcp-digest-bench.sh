#!/usr/bin/env bash
# The GCP digest's throughput on the cloud range against sha256sum of the same image, in the same run:
# acquire one 1 GiB disk of the compromised web server's Google Cloud twin and time its digest step (a disk
# made from the evidence snapshot, a worker VM that reads it once and computes both digests, their deletion)
# from the custody records.
#   scripts/gcp-digest-bench.sh          (after make build images)
set -euo pipefail

acquire=${ACQUIRE:-bin/acquire}
cloudsim=${CLOUDSIM:-bin/cloudsim}
scenario=${SCENARIO:-testdata/scenarios/compromised-web-server.json}
images=${IMAGES:-testdata/scenarios/images}
out=$(mktemp -d)
trap 'kill "$range" 2>/dev/null; wait "$range" 2>/dev/null; rm -rf "$out"' EXIT

"$cloudsim" --scenario "$scenario" --state-dir "$out/range" > "$out/cloudsim.log" 2>&1 &
range=$!
for _ in $(seq 100); do grep -q 'cloudsim: ready' "$out/cloudsim.log" 2>/dev/null && break; sleep 0.1; done
set -a; . "$out/range/cloudsim.env"; set +a
export ACQUIRE_PASSWORD=bench-password ACQUIRE_OPERATOR="bench <bench@example.org>"
"$acquire" keygen --out "$out/custody" >/dev/null
"$acquire" gcp --case "$out/case" --case-id BENCH --project acme-web-prod --zone us-central1-a --disk web-1 \
  --forensic-project acme-forensics --credentials "$CLOUDSIM_GCP_RESPONDER_KEY_FILE" --endpoint "$CLOUDSIM_GCP_ENDPOINT" \
  --key "$out/custody.key" --poll-interval 100ms >/dev/null 2>&1
times=$("$acquire" custody show "$out/case" -o json | jq -r 'select(.type == "record" and .predicate.action == "digest") | .predicate.time')
start=$(date -d "$(head -1 <<<"$times")" +%s.%N)
end=$(date -d "$(tail -1 <<<"$times")" +%s.%N)
size=$(stat -c %s "$images/web-root.img")
t0=$(date +%s.%N); sha256sum "$images/web-root.img" >/dev/null; t1=$(date +%s.%N)
awk -v s="$start" -v e="$end" -v a="$t0" -v b="$t1" -v n="$size" 'BEGIN {
  d = e - s; h = b - a
  printf "digest step on the range: %.2f s, %.0f MiB/s\n", d, n / d / 1048576
  printf "sha256sum of the image:   %.2f s, %.0f MiB/s\n", h, n / h / 1048576
  printf "digest / sha256sum:       %.2f\n", h / d }'
