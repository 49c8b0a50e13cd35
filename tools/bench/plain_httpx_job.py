"""Reference for the CLI figure: the same sync.so job done by hand with plain httpx, nothing else.

`python plain_httpx_job.py BASE_URL KEY VIDEO AUDIO OUT`: presign + PUT + register each file,
submit, poll every 20 ms (no backoff, no long-poll), download the output. Imports only httpx, so
it is what a bare script costs: interpreter start, one client, the bytes on the wire.
"""

import os
import sys
import time

import httpx


def upload(client: httpx.Client, base: str, path: str, kind: str, ctype: str) -> str:
    size = os.path.getsize(path)
    presign = client.post(f"{base}/v2/assets/upload", json={"fileName": os.path.basename(path),
                                                             "contentType": ctype, "size": size}).json()
    with open(path, "rb") as f:
        client.put(presign["uploadUrl"], content=f, headers={"Content-Type": ctype}).raise_for_status()
    asset = client.post(f"{base}/v2/assets", json={"url": presign["url"], "type": kind,
                                                   "name": os.path.basename(path)}).json()
    return asset.get("url") or presign["url"]


def main() -> None:
    base, key, video, audio, out = sys.argv[1:6]
    with httpx.Client(headers={"x-api-key": key}, timeout=60) as client:
        inputs = [{"type": "video", "url": upload(client, base, video, "VIDEO", "video/mp4")},
                  {"type": "audio", "url": upload(client, base, audio, "AUDIO", "audio/wav")}]
        r = client.post(f"{base}/v2/generate", json={"model": "lipsync-2", "input": inputs})
        r.raise_for_status()
        gen = r.json()["id"]
        while True:
            data = client.get(f"{base}/v2/generate/{gen}").json()
            if data["status"] == "COMPLETED":
                break
            if data["status"] in ("FAILED", "REJECTED", "CANCELED", "CANCELLED"):
                raise SystemExit(f"job {data['status']}")
            time.sleep(0.02)
        url = data.get("outputUrl") or data.get("outputMediaUrl")
        with client.stream("GET", url) as resp, open(out, "wb") as f:
            resp.raise_for_status()
            for block in resp.iter_bytes(1 << 20):
                f.write(block)


if __name__ == "__main__":
    main()
