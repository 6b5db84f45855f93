"""Peak memory of a server under concurrent maximum-size uploads, with the decode budget and without it.

The red-team case: a 2 kB lossless WEBP of 16383x3000 (49 M pixels, under the 50 MP limit) uploaded by
many clients at once. Each run starts a fresh `sightline serve` process (its own SIGHTLINE_HOME) and
reads its peak resident memory (VmHWM) once every upload has answered. The baseline is the same server
with the budget lifted (SIGHTLINE_DECODE_BUDGET_PIXELS very large), at fewer clients so that it does
not exhaust this shared machine.

    python benchmarks/upload_memory.py [--clients 16] [--baseline-clients 4]
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from _common import markdown_table, write_result
from PIL import Image

from sightline.imaging import DEFAULT_DECODE_BUDGET_PIXELS

WIDTH, HEIGHT = 16383, 3000


def bomb_webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (WIDTH, HEIGHT), (120, 30, 200)).save(out, "WEBP", lossless=True, quality=0)
    return out.getvalue()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def run(clients: int, budget: int, data: bytes) -> dict:
    with tempfile.TemporaryDirectory() as home:
        port = _free_port()
        env = {**os.environ, "SIGHTLINE_HOME": home, "SIGHTLINE_DECODE_BUDGET_PIXELS": str(budget)}
        command = [sys.executable, "-m", "sightline.cli", "serve", "--port", str(port), "--no-worker"]
        log = open(Path(home) / "server.log", "wb")  # noqa: SIM115 (closed with the folder)
        server = subprocess.Popen([*command, "--log-level", "error"], env=env, stdout=log, stderr=log)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 300
            while True:
                try:
                    httpx.get(url + "/openapi.json", timeout=30)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError((Path(home) / "server.log").read_text()) from None
                    time.sleep(0.3)
            keys = subprocess.run(
                [sys.executable, "-m", "sightline.cli", "keys", "--json"], env=env, capture_output=True, text=True
            )
            import json

            key = json.loads(keys.stdout)["trainingKey"]
            api = httpx.Client(base_url=f"{url}/customvision/v3.3/training", headers={"Training-Key": key}, timeout=600)
            project = api.post("/projects", params={"name": "Memory", "domainId": _tiny(api)}).json()
            idle = _kib(server.pid, "VmRSS")

            def upload(i: int) -> int:
                # distinct bytes per client (a different name in the body is not enough: the image is the same)
                body = {"images": [{"name": f"{i}.webp", "contents": base64.b64encode(data).decode()}]}
                return api.post(f"/projects/{project['id']}/images/files", json=body).status_code

            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                statuses = list(pool.map(upload, range(clients)))
            seconds = time.perf_counter() - started
            return {
                "idle_mb": idle / 1024,
                "peak_mb": _kib(server.pid, "VmHWM") / 1024,
                "after_mb": _kib(server.pid, "VmRSS") / 1024,
                "seconds": seconds,
                "statuses": sorted(set(statuses)),
            }
        finally:
            server.terminate()
            server.wait(30)


def _tiny(api: httpx.Client) -> str:
    domains = api.get("/domains").json()
    return next(d["id"] for d in domains if "tiny" in d["name"].lower())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--baseline-clients", type=int, default=4)
    args = parser.parse_args()
    data = bomb_webp()
    rows = []
    for label, clients, budget in (
        ("no budget (baseline)", args.baseline_clients, 10**12),
        (f"budget {DEFAULT_DECODE_BUDGET_PIXELS / 1e6:.0f} MP", args.baseline_clients, DEFAULT_DECODE_BUDGET_PIXELS),
        (f"budget {DEFAULT_DECODE_BUDGET_PIXELS / 1e6:.0f} MP", args.clients, DEFAULT_DECODE_BUDGET_PIXELS),
    ):  # fmt: skip
        result = run(clients, budget, data)
        rows.append([label, clients, f"{result['idle_mb']:.0f}", f"{result['peak_mb']:.0f}",
                     f"{result['after_mb']:.0f}", f"{result['seconds']:.1f}", result["statuses"]])  # fmt: skip
        print(rows[-1], flush=True)
    body = (
        f"{len(data):,}-byte lossless WEBP of {WIDTH}x{HEIGHT} ({WIDTH * HEIGHT / 1e6:.1f} M pixels), "
        "uploaded by concurrent clients (one image per request; the first is stored, the rest are duplicates, "
        "but every one is decoded and checked).\n\n"
        + markdown_table(
            ["server", "clients", "idle RSS MB", "peak RSS MB", "RSS after MB", "seconds", "HTTP statuses"], rows
        )
    )
    write_result("upload_memory", "Server memory under concurrent maximum-size uploads", body)


if __name__ == "__main__":
    main()
