#!/usr/bin/python3
# acquire's digest worker: the startup script of a short-lived VM in the forensic project, to which a
# disk made from the evidence snapshot is attached read-only. It reads the device once, block by block,
# and publishes through guest attributes (namespace "acquire") the two digests acquire computes on
# every cloud: the SHA-256 of the raw image, and the SHA-256 over the SHA-256 of each block in order.
# It needs no network beyond the metadata server, and no credentials. With an image bucket, acquire
# gives it a Cloud Storage resumable upload session (attribute acquire-image-upload): it writes the
# raw image there as it reads it, in chunks, and publishes the image's MD5 for acquire to compare with
# the object's. The session URI is the only credential the upload needs, and it is never printed.
# When the image is in the bucket already (an earlier attempt wrote it), acquire asks for its MD5 only
# (attribute acquire-image-md5), to compare with the object's.
# GCE_METADATA_HOST and GCPSIM_DEVICE_DIR are how the cloud range runs it; in the cloud they are unset.
import base64
import hashlib
import http.client
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

MD = "http://" + os.environ.get("GCE_METADATA_HOST", "metadata.google.internal") + "/computeMetadata/v1/"
REPORT_EVERY = 64 << 20
CHUNK = 16 << 20  # a multiple of 256 KiB, as resumable uploads require of every chunk but the last


def md(path):
    req = urllib.request.Request(MD + path, headers={"Metadata-Flavor": "Google"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read().decode()


def put(key, value):
    req = urllib.request.Request(MD + "instance/guest-attributes/acquire/" + key, data=str(value).encode(),
                                 method="PUT", headers={"Metadata-Flavor": "Google"})
    urllib.request.urlopen(req, timeout=30).close()


def attribute(name):
    try:
        return md("instance/attributes/" + name)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return ""
        raise


class Upload:
    """A resumable upload to a session URI
    (https://cloud.google.com/storage/docs/performing-resumable-uploads): chunks of CHUNK bytes, each
    PUT with its Content-Range; after a failed PUT, the session's status says where to resume."""

    def __init__(self, session, total):
        self.url = urllib.parse.urlsplit(session)
        self.total = total
        self.sent = 0
        self.pending = bytearray()

    def conn(self):
        cls = http.client.HTTPSConnection if self.url.scheme == "https" else http.client.HTTPConnection
        return cls(self.url.netloc, timeout=120)

    def put(self, body, content_range):
        c = self.conn()
        try:
            path = self.url.path + ("?" + self.url.query if self.url.query else "")
            c.request("PUT", path, body=bytes(body), headers={"Content-Range": content_range, "Content-Length": str(len(body))})
            r = c.getresponse()
            r.read()
            return r.status, r.getheader("Range")
        finally:
            c.close()

    def held(self):
        """How many bytes the session holds, asked with an empty PUT."""
        status, rng = self.put(b"", "bytes */%d" % self.total)
        if status in (200, 201):
            return self.total
        if status != 308:
            raise IOError("the upload session answered %d to a status query" % status)
        return int(rng.rsplit("-", 1)[1]) + 1 if rng else 0

    def write(self, data, last):
        self.pending += data
        while len(self.pending) >= CHUNK or (last and self.pending):
            n = CHUNK if len(self.pending) >= CHUNK else len(self.pending)
            self.send(n)

    def send(self, n):
        for attempt in range(8):
            start = self.sent
            try:
                status, rng = self.put(self.pending[:n], "bytes %d-%d/%d" % (start, start + n - 1, self.total))
            except (OSError, http.client.HTTPException):
                status = None  # the answer was lost: the session's status tells what arrived
            if status in (200, 201):
                del self.pending[:n]
                self.sent += n
                return
            if status == 308:  # the Range says how much of the chunk the session took
                held = int(rng.rsplit("-", 1)[1]) + 1 if rng else 0
                done = max(0, min(held - start, n))
                del self.pending[:done]
                self.sent += done
                n -= done
                if n == 0:
                    return
                continue
            if status is not None and status < 500 and status != 429:
                raise IOError("the upload was refused with HTTP %d" % status)
            time.sleep(min(2 ** attempt, 30))
            try:
                held = self.held()
            except (OSError, http.client.HTTPException):
                continue
            if held > start:
                done = min(held - start, n)
                del self.pending[:done]
                self.sent += done
                n -= done
                if n == 0:
                    return
        raise IOError("the upload failed at byte %d after retries" % self.sent)


def main():
    block = int(md("instance/attributes/acquire-block-size"))
    name = md("instance/attributes/acquire-device")
    device = os.path.join(os.environ.get("GCPSIM_DEVICE_DIR", "/dev/disk/by-id"), "google-" + name)
    put("status", "running")
    session = attribute("acquire-image-upload")
    want_md5 = bool(session) or attribute("acquire-image-md5") == "yes"
    image, listing, md5 = hashlib.sha256(), hashlib.sha256(), hashlib.md5()
    buf = bytearray(block)
    view = memoryview(buf)
    done = blocks = 0
    with open(device, "rb", buffering=0) as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(0)
        put("size", size)
        upload = Upload(session, size) if session else None
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
            if want_md5:
                md5.update(view[:got])
            if upload:
                upload.write(view[:got], done + got >= size)
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
    if want_md5:
        put("image-md5", base64.b64encode(md5.digest()).decode())
    if upload:
        put("image-bytes", upload.sent)
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
