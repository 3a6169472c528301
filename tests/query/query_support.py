"""The query tests' lake: an applied AWS stack in its own moto process, with small curated Parquet files whose
answers are known by hand (the `lake` fixture in conftest.py builds it; tests import the helpers from here).

The stack is applied by the local engine (the real Glue table, workgroup and saved queries of
components/data_lake/query_aws.py); the files are written with pyarrow in the curated table's layout
(`listings/run-test/city=<city>/part-0.parquet`) and registered as `tricloud emulate` registers a Spark run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from components.data_lake import curated
from tricloud.engine import Emulator
from tricloud.engine.emulator import reachable
from tricloud.inventory import stack_config

REGION = stack_config("aws", "dev")["aws:region"]
# Its own stack name and its own moto process: in-process moto servers of one test process share their backends,
# and the emulator tests apply the dev stack (account-wide OIDC provider included) into theirs.
STACK = "qtest"


def moto_process() -> tuple[subprocess.Popen[bytes], str]:
    """moto with the SigV4 fixes IAM enforcement needs (`tricloud.engine.moto_server`) on a free loopback port, in its
    own process (stopped by PID by the caller)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tricloud.engine.moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if reachable(url):
            return proc, url
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"moto_server did not answer on {url} within 60 s")


ARROW = {"string": pa.string(), "int": pa.int32(), "double": pa.float64()}

# The rows, by city: (price_inr, area_sqft, bedrooms). Worked answers are in the tests that use them.
ROWS: dict[str, list[tuple[float, float, int]]] = {
    "Mumbai": [(1000.0, 10.0, 1), (3000.0, 20.0, 3), (2000.0, 40.0, 2)],
    "Pune": [(100.0, 10.0, 2), (200.0, 10.0, 2)],
    "Delhi": [(500.0, 5.0, 3)],
}


def listing_table(rows: list[tuple[float, float, int]]) -> pa.Table:
    """Rows in the curated schema (columns in file order); fields the tests do not read are constants."""
    cols: dict[str, list[Any]] = {}
    for c in curated.columns():
        if c.name == "price_inr":
            cols[c.name] = [r[0] for r in rows]
        elif c.name == "area_sqft":
            cols[c.name] = [r[1] for r in rows]
        elif c.name == "bedrooms":
            cols[c.name] = [r[2] for r in rows]
        else:
            cols[c.name] = [{"string": "furnished", "int": 1, "double": 1.0}[c.kind]] * len(rows)
    return pa.table(
        {n: pa.array(v, ARROW[c.kind]) for (n, v), c in zip(cols.items(), curated.columns(), strict=True)}
    )


@dataclass
class Lake:
    emulator: Emulator
    outputs: dict[str, Any]
    run_uri: str
    state_path: Path

    def put_parquet(self, city: str, table: pa.Table, name: str = "part-0.parquet") -> None:
        import io

        bucket, _, prefix = self.run_uri.removeprefix("s3://").partition("/")
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="snappy")
        self.emulator.client("s3").put_object(
            Bucket=bucket, Key=f"{prefix}{curated.PARTITION_COLUMN}={city}/{name}", Body=buf.getvalue()
        )

    def results(self) -> list[str]:
        bucket, _, prefix = (
            (str(self.outputs["artifacts_uri"]) + "athena-results/").removeprefix("s3://").partition("/")
        )
        listed = self.emulator.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for o in listed.get("Contents", []))
