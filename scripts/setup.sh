#!/usr/bin/env bash
# Installs what `make demo` or `make test` needs on a Debian machine with Go, and only what is
# missing, saying what it installs. It is safe to run again: with everything there, it does nothing.
#
#   scripts/setup.sh demo   # the demo: e2fsprogs (the range's disk images), openssl, jq, sleuthkit, python3
#   scripts/setup.sh test   # the tests: those, and the AWS and Azure CLIs, Chromium, curl, cosign
set -euo pipefail
what=${1:-test}
case "$what" in demo|test) ;; *) echo "usage: $0 demo|test" >&2; exit 2 ;; esac

# command -> Debian package that provides it
declare -A packages=(
  [openssl]=openssl [jq]=jq [mkfs.ext4]=e2fsprogs [debugfs]=e2fsprogs [fls]=sleuthkit [sha256sum]=coreutils [git]=git
)
if [ "$what" = test ]; then
  packages+=([aws]=awscli [az]=azure-cli [chromium]=chromium [curl]=curl)
fi
missing=()
for cmd in "${!packages[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${packages[$cmd]}")
done
# The Google Cloud digest worker's startup script (providers/gcp/worker/digest.py) names /usr/bin/python3,
# as it is on the cloud's Debian images; the range runs that script as it is.
[ -x /usr/bin/python3 ] || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "setup: installing ${missing[*]} (apt-get)"
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "setup: ${missing[*]} must be installed, and this needs root or sudo" >&2; exit 1; }
    sudo=sudo
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" ca-certificates >/dev/null
fi

# Go tools, pinned: cosign for the auditors' cosign route.
if [ "$what" = test ]; then
  gobin="$(go env GOPATH)/bin"
  if ! PATH="$PATH:$gobin" cosign version 2>/dev/null | grep -q 'v3.1.3'; then
    echo "setup: installing cosign v3.1.3 (go install, into $gobin)"
    GOFLAGS= go install github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3
  fi
fi
