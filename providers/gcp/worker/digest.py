#!/usr/bin/python3
# acquire's digest worker: the startup script of a short-lived VM in the forensic project, to which a
# disk made from the evidence snapshot is attached read-only. It reads the device once, block by block,
# and publishes through guest attributes (namespace "acquire") the two digests acquire computes on
# every cloud: the SHA-256 of the raw image, and the SHA-256 over the SHA-256 of each block in order.
# It needs no network beyond the metadata server, and no credentials.
# GCE_METADATA_HOST and GCPSIM_DEVICE_DIR are how the cloud range runs it; in the cloud they are unset.
import hashlib
import os
import subprocess
import sys
import urllib.request

MD = "http://" + os.environ.get("GCE_METADATA_HOST", "metadata.google.internal") + "/computeMetadata/v1/"
REPORT_EVERY = 64 << 20


def md(path):
    req = urllib.request.Request(MD + path, headers={"Metadata-Flavor": "Google"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read().decode()


def put(key, value):
    req = urllib.request.Request(MD + "instance/guest-attributes/acquire/" + key, data=str(value).encode(),
                                 method="PUT", headers={"Metadata-Flavor": "Google"})
    urllib.request.urlopen(req, timeout=30).close()


def main():
    block = int(md("instance/attributes/acquire-block-size"))
    name = md("instance/attributes/acquire-device")
    device = os.path.join(os.environ.get("GCPSIM_DEVICE_DIR", "/dev/disk/by-id"), "google-" + name)
    put("status", "running")
    image, listing = hashlib.sha256(), hashlib.sha256()
    buf = bytearray(block)
    view = memoryview(buf)
    done = blocks = 0
    with open(device, "rb", buffering=0) as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(0)
        put("size", size)
        report = REPORT_EVERY
        while done < size:
            want = min(block, size - done)
            got = 0
            while got < want:
                n = f.readinto(view[got:want])
                if not n:
                    raise IOError("the device ended at byte %d of %d" % (done + got, size))
                got += n
            image.update(view[:got])
            listing.update(hashlib.sha256(view[:got]).digest())
            done += got
            blocks += 1
            if done >= report:
                put("progress", done)
                report += REPORT_EVERY
    put("progress", done)
    put("blocks", blocks)
    put("block-size", block)
    put("image-sha256", image.hexdigest())
    put("blocklist-sha256", listing.hexdigest())
    put("status", "done")


try:
    main()
    code = 0
except Exception as e:  # the reason goes to acquire, which records it
    try:
        put("error", str(e)[:2000])
        put("status", "failed")
    except Exception:
        pass
    code = 1
if "GCPSIM_DEVICE_DIR" not in os.environ:
    subprocess.run(["poweroff"], check=False)  # a VM that has done its work stops costing
sys.exit(code)
