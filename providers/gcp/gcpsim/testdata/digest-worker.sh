#!/bin/sh
# A small digest worker for the simulator's tests, written as one for the
# cloud would be: it reads the attached evidence device, publishes its
# SHA-256 as guest attributes through the metadata server, and uploads the
# raw image to the bucket named in its metadata with the instance's token.
# The emulation boundary: GCE_METADATA_HOST (default metadata.google.internal),
# GCPSIM_DEVICE_DIR (default /dev/disk/by-id), STORAGE_EMULATOR_HOST
# (default https://storage.googleapis.com).
set -eu
md="http://${GCE_METADATA_HOST:-metadata.google.internal}/computeMetadata/v1"
dev="${GCPSIM_DEVICE_DIR:-/dev/disk/by-id}/google-evidence"
gcs="${STORAGE_EMULATOR_HOST:-https://storage.googleapis.com}"
get() { curl -sf -H 'Metadata-Flavor: Google' "$md/$1"; }
put() { curl -sf -X PUT -H 'Metadata-Flavor: Google' --data-binary "$2" "$md/instance/guest-attributes/acquire/$1"; }

put status running
sum=$(sha256sum "$dev" | cut -d' ' -f1)
size=$(stat -c %s "$dev")
put sha256 "$sum"
put size "$size"
bucket=$(get instance/attributes/evidence-bucket)
object=$(get instance/attributes/evidence-object)
token=$(get instance/service-accounts/default/token | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
# The test uploads the first 8 MiB (where the test disks hold data); a
# production worker streams the whole device the same way.
head -c 8388608 "$dev" | curl -sf -X POST -T - -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/octet-stream' "$gcs/upload/storage/v1/b/$bucket/o?uploadType=media&name=$object" >/dev/null
# The device is read-only to the guest.
if (echo x >>"$dev") 2>/dev/null; then put status device-writable; exit 3; fi
put status done
