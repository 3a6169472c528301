"""Serving benchmark: the SageMaker-contract server on uvicorn against the hand-written asyncio server it replaced
and against MLServer, all serving the same model.

    .venv/bin/python benchmarks/serve.py [--rounds 3] [--seconds 3] [--no-peer] [--no-handwritten]

Every server runs as its own process on 127.0.0.1 and serves the same fitted model:
  - ours: `python -m app.serve sagemaker` (uvicorn + httptools, app/serve/http.py);
  - hand-written: the asyncio HTTP/1.1 server app/serve/http.py held until commit HANDWRITTEN_REV (read from git
    history, run with today's handler, predictor and model), the candidate uvicorn had to beat within 1.5x;
  - peer: MLServer 1.7.1 + mlserver-sklearn (installed by this script into its own venv, benchmarks/.venv-mlserver,
    git-ignored) with parallel_workers 0, V2 protocol.
One keep-alive client measures, in interleaved rounds (ours, hand-written, peer, ours...):
  - closed loop, single row and 100 rows per request: requests/s, p50, p99
  - open loop at a fixed 300 requests/s: p50, p99 (latency from the scheduled send time)
and prints medians over rounds with the ratios. Load is bounded in time and count. The load average is printed
before and after: the machine may be shared.

Note on fairness: the peer receives the 20 engineered features (V2 FP64 tensor) and returns
the raw model output; ours receives the listing JSON, validates it against the shared schema,
computes the features and returns prices, so ours does strictly more work per request.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.data import generate, write_listings  # noqa: E402
from app.features import featurize_frame  # noqa: E402
from app.train import Hyperparameters, train  # noqa: E402

PEER_VENV = REPO / "benchmarks" / ".venv-mlserver"
# The last commit whose app/serve/http.py is the hand-written asyncio server (replaced by uvicorn after it).
HANDWRITTEN_REV = "9bb3050e464e97dedd2535a5f49ca6b6bb2dde1c"
PEER_PINS = ["mlserver==1.7.1", "mlserver-sklearn==1.7.1"]
MAX_REQUESTS_PER_RUN = 50_000  # hard bound next to the time bound
# One OpenMP thread per server: scikit-learn's multi-threaded predict spins its thread pool on
# every single-row call, which on 2 shared cores made MLServer ~50x slower (48 ms p50 measured).
SERVER_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


# ---- a minimal keep-alive HTTP/1.1 client (same for both servers) ---------------------------


class Client:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def request(self, raw: bytes) -> int:
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        m = re.search(rb"(?i)content-length:\s*(\d+)", head)
        length = int(m.group(1)) if m else 0
        while len(rest) < length:
            more = self.sock.recv(65536)
            if not more:
                raise ConnectionError("server closed the connection")
            rest += more
        self.buf = rest[length:]
        if b"connection: close" in head.lower():
            raise ConnectionError("server closed a keep-alive connection")
        return int(head[9:12])

    def _fill(self) -> None:
        more = self.sock.recv(65536)
        if not more:
            raise ConnectionError("server closed the connection")
        self.buf += more

    def close(self) -> None:
        self.sock.close()


def http_request(path: str, body: bytes, content_type: str = "application/json") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


@dataclass
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def closed_loop(port: int, raw: bytes, seconds: float) -> Sample:
    client = Client(port)
    try:
        for _ in range(50):  # warm-up
            client.request(raw)
        lat: list[float] = []
        errors = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds and len(lat) < MAX_REQUESTS_PER_RUN:
            t0 = time.perf_counter()
            errors += client.request(raw) != 200
            lat.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
    finally:
        client.close()
    return Sample(len(lat) / elapsed, _pct(lat, 0.5), _pct(lat, 0.99), errors)


def fixed_rate(port: int, raw: bytes, rate: float, seconds: float) -> Sample:
    """Open loop: latency counts from the scheduled send time (no coordinated omission)."""
    client = Client(port)
    try:
        for _ in range(50):
            client.request(raw)
        n = int(rate * seconds)
        lat: list[float] = []
        errors = 0
        start = time.perf_counter()
        for i in range(n):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            errors += client.request(raw) != 200
            lat.append(time.perf_counter() - due)
        elapsed = time.perf_counter() - start
    finally:
        client.close()
    return Sample(n / elapsed, _pct(lat, 0.5), _pct(lat, 0.99), errors)


# ---- the two servers -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout}s")


def start_ours(model_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    cmd = [sys.executable, "-m", "app.serve", "sagemaker", "--port", str(port), "--model-dir", str(model_dir)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=SERVER_ENV, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{port}/ping", proc)
    return proc, port


def handwritten_source(work: Path) -> Path:
    """The hand-written server's module, from git history (the repository must not be a shallow clone)."""
    out = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{HANDWRITTEN_REV}:app/serve/http.py"],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(
            f"cannot read the hand-written server from git ({out.stderr.strip()}); "
            "fetch the full history (git fetch --unshallow) or pass --no-handwritten"
        )
    path = work / "handwritten_http.py"
    path.write_text(out.stdout)
    return path


def serve_handwritten(source: str, port: int, model_dir: str) -> int:
    """Child-process entry: today's SageMaker handler and model under the hand-written server."""
    import asyncio
    import importlib.util

    from app.serve import sagemaker
    from app.serve.contracts import SAGEMAKER
    from app.serve.predictor import Predictor
    from app.serve.service import InferenceService

    spec = importlib.util.spec_from_file_location("handwritten_http", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    handler = sagemaker.make_handler(InferenceService(Predictor(model_dir)))
    asyncio.run(module.serve_forever(handler, "127.0.0.1", port, max_body_bytes=SAGEMAKER.max_body_bytes))
    return 0


def start_handwritten(source: Path, model_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    cmd = [sys.executable, __file__, "--serve-handwritten", str(source), str(port), str(model_dir)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=SERVER_ENV, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{port}/ping", proc)
    return proc, port


def ensure_peer_venv() -> Path:
    python = PEER_VENV / "bin" / "python"
    probe = [str(python), "-c", "import mlserver, mlserver_sklearn, sklearn; print(mlserver.__version__)"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    import sklearn

    print(f"creating {PEER_VENV.relative_to(REPO)} with {' '.join(PEER_PINS)} ...", flush=True)
    subprocess.run(
        [getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(PEER_VENV)], check=True
    )
    # Same scikit-learn as ours: the peer must unpickle the very same model file.
    pins = [*PEER_PINS, f"scikit-learn=={sklearn.__version__}"]
    subprocess.run([str(python), "-m", "pip", "install", "-q", *pins], check=True)
    return python


def peer_version(python: Path) -> str:
    out = subprocess.run(
        [str(python), "-c", "import mlserver; print(mlserver.__version__)"], capture_output=True, text=True
    )
    return out.stdout.strip()


def start_peer(python: Path, model_dir: Path, work: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    repo = work / "mlserver-models"
    (repo / "house").mkdir(parents=True, exist_ok=True)
    shutil.copy(model_dir / "model.joblib", repo / "house" / "model.joblib")
    (repo / "house" / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "house",
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib", "version": "v1"},
            }
        )
    )
    port, grpc_port = free_port(), free_port()
    # DESIGN.md 7: parallel_workers 0 (in-process inference), loopback only, no metrics server.
    settings = {
        "parallel_workers": 0,
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": grpc_port,
        "metrics_endpoint": None,
        "debug": False,
    }
    (repo / "settings.json").write_text(json.dumps(settings))
    mlserver = python.parent / "mlserver"
    proc = subprocess.Popen(
        [str(mlserver), "start", str(repo)],
        cwd=repo,
        env=SERVER_ENV,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    wait_http(f"http://127.0.0.1:{port}/v2/models/house/ready", proc)
    return proc, port


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- main ----------------------------------------------------------------------------------


def v2_body(features: list[list[float]]) -> bytes:
    flat = [x for row in features for x in row]
    tensor = {"name": "input-0", "shape": [len(features), len(features[0])], "datatype": "FP64", "data": flat}
    return json.dumps({"inputs": [tensor]}).encode()


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min, {os.cpu_count()} cores)"


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve-handwritten":
        return serve_handwritten(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0, help="duration of each closed-loop run")
    ap.add_argument("--rate", type=float, default=300.0)
    ap.add_argument("--rate-seconds", type=float, default=5.0)
    ap.add_argument("--train-rows", type=int, default=20_000)
    ap.add_argument("--no-peer", action="store_true", help="leave MLServer out")
    ap.add_argument("--no-handwritten", action="store_true", help="leave the hand-written server out")
    args = ap.parse_args()
    if not (1 <= args.rounds <= 10 and 0.5 <= args.seconds <= 30 and 1 <= args.rate <= 2000):
        ap.error(f"bounded load only: rounds 1-10, seconds 0.5-30, rate 1-2000; got {vars(args)}")

    work = Path(tempfile.mkdtemp(prefix="tricloud-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    print(f"start: {load()}", flush=True)
    try:
        frame = generate(args.train_rows, seed=42)
        data = write_listings(frame, work / "train.csv")
        result = train(data, work / "model", Hyperparameters())
        print(f"model {result.version}: held-out R2 {result.metrics['r2']:.3f}", flush=True)

        sample = generate(100, seed=7).drop(columns=["price_inr"])
        rows = sample.to_dict("records")
        feats = featurize_frame(sample).tolist()
        contract_bodies = (
            http_request("/invocations", json.dumps(rows[0]).encode()),
            http_request("/invocations", json.dumps({"instances": rows}).encode()),
        )
        ours_proc, ours_port = start_ours(result.model_dir, work / "ours.log")
        procs.append(ours_proc)
        targets: dict[str, tuple[int, bytes, bytes]] = {"ours": (ours_port, *contract_bodies)}
        if not args.no_handwritten:
            source = handwritten_source(work)
            hand_proc, hand_port = start_handwritten(source, result.model_dir, work / "handwritten.log")
            procs.append(hand_proc)
            targets["hand-written"] = (hand_port, *contract_bodies)
        peer_name = ""
        if not args.no_peer:
            python = ensure_peer_venv()
            peer_name = f"MLServer {peer_version(python)} (mlserver-sklearn, parallel_workers 0)"
            peer_proc, peer_port = start_peer(python, result.model_dir, work, work / "peer.log")
            procs.append(peer_proc)
            path = "/v2/models/house/infer"
            targets["peer"] = (
                peer_port,
                http_request(path, v2_body(feats[:1])),
                http_request(path, v2_body(feats)),
            )

        metrics: dict[str, dict[str, list[Sample]]] = {
            name: {"1": [], "100": [], "rate": []} for name in targets
        }
        runs: list[tuple[str, Callable[[int, bytes, bytes], Sample]]] = [
            ("1", lambda port, one, _many: closed_loop(port, one, args.seconds)),
            ("100", lambda port, _one, many: closed_loop(port, many, args.seconds)),
            ("rate", lambda port, one, _many: fixed_rate(port, one, args.rate, args.rate_seconds)),
        ]
        for r in range(args.rounds):
            for key, fn in runs:  # interleaved: each measurement on every server before the next one
                for name, (port, one, many) in targets.items():
                    s = fn(port, one, many)
                    metrics[name][key].append(s)
                    print(
                        f"round {r + 1} {name:12} {key:>4}: {s.rps:8.1f} req/s p50 {s.p50_ms:6.2f} ms "
                        f"p99 {s.p99_ms:6.2f} ms errors {s.errors}",
                        flush=True,
                    )
        print_table(metrics, peer_name, args)
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(work, ignore_errors=True)
    print(f"end: {load()}", flush=True)
    return 0


def print_table(
    metrics: dict[str, dict[str, list[Sample]]], peer_name: str, args: argparse.Namespace
) -> None:
    def med(name: str, key: str, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in metrics[name][key])

    rows = [
        ("single-row throughput (req/s)", "1", "rps"),
        ("single-row p50 (ms)", "1", "p50_ms"),
        ("single-row p99 (ms)", "1", "p99_ms"),
        ("100-row throughput (req/s)", "100", "rps"),
        ("100-row p50 (ms)", "100", "p50_ms"),
        ("100-row p99 (ms)", "100", "p99_ms"),
        (f"p50 at {args.rate:g} req/s (ms)", "rate", "p50_ms"),
        (f"p99 at {args.rate:g} req/s (ms)", "rate", "p99_ms"),
    ]
    names = list(metrics)
    ratios = [(n, f"ours/{n}") for n in names if n != "ours"]
    print()
    print(f"Medians over {args.rounds} interleaved rounds; one keep-alive client on 127.0.0.1; {load()}.")
    print("ours: uvicorn + httptools (app/serve/http.py); all servers with OMP_NUM_THREADS=1.")
    if "hand-written" in metrics:
        print(
            f"hand-written: the asyncio server of app/serve/http.py at {HANDWRITTEN_REV[:7]}, same handler."
        )
    if "peer" in metrics:
        print(f"peer: {peer_name}.")
    print("\n| metric | " + " | ".join(names) + " | " + " | ".join(r for _, r in ratios) + " |")
    print("|---|" + "---:|" * (len(names) + len(ratios)))
    for label, key, attr in rows:
        fmt = ".1f" if attr == "rps" else ".2f"
        values = [f"{med(n, key, attr):{fmt}}" for n in names]
        ratio = [f"{med('ours', key, attr) / med(n, key, attr):.3g}" for n, _ in ratios]
        print(f"| {label} | " + " | ".join(values + ratio) + " |")
    errors = sum(s.errors for by_key in metrics.values() for samples in by_key.values() for s in samples)
    print(f"\nnon-200 answers: {errors}")
    if "hand-written" in metrics:
        factor = med("hand-written", "1", "rps") / med("ours", "1", "rps")
        verdict = "keep uvicorn" if factor <= 1.5 else "the hand-written server wins by more than 1.5x"
        print(f"hand-written / uvicorn single-row throughput: {factor:.2f}x ({verdict})")


if __name__ == "__main__":
    raise SystemExit(main())
