"""The Spark driver's start-up (tricloud/emulate/spark_submit.py, docs/emulation.md "The Spark phase's start-up"):
the class-data archive's key and flags, the trust store Java reads, and a warm-up that never delays the job."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.data.generator import generate, write_listings
from tricloud.emulate import spark_submit
from tricloud.emulate.tls import TlsProxy
from tricloud.inventory import REPO_ROOT

pytestmark = pytest.mark.emulator
JAVA = shutil.which("java")


@pytest.fixture()
def jars(tmp_path: Path) -> list[str]:
    out = []
    for name, size in (("hadoop-aws.jar", 10), ("sdk.jar", 20)):
        (tmp_path / name).write_bytes(b"x" * size)
        out.append(str(tmp_path / name))
    return out


@pytest.mark.skipif(JAVA is None, reason="needs a Java runtime (the archive key names it)")
def test_archive_key_follows_the_class_path_and_the_jvm_flags(
    tmp_path: Path, jars: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = spark_submit.cds_archive(tmp_path, jars)
    assert first == spark_submit.cds_archive(tmp_path, list(jars)), "same install, same archive"
    assert first.parent == tmp_path and first.name.startswith("spark-") and first.suffix == ".jsa"
    Path(jars[1]).write_bytes(b"x" * 21)  # an upgraded jar: the old archive's classes would not match
    second = spark_submit.cds_archive(tmp_path, jars)
    assert second != first
    monkeypatch.setattr(spark_submit, "JVM_OPTIONS", spark_submit.JVM_OPTIONS + " -XX:+UseParallelGC")
    assert spark_submit.cds_archive(tmp_path, jars) not in (first, second)


@pytest.mark.skipif(JAVA is None, reason="needs a Java runtime")
def test_archive_flags_write_then_map_and_off_disables(
    tmp_path: Path, jars: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRICLOUD_SPARK_CDS", "off")
    assert spark_submit.cds_options(jars) == ("", None)
    monkeypatch.setenv("TRICLOUD_SPARK_CDS", str(tmp_path / "cache"))
    archive = spark_submit.cds_archive(tmp_path / "cache", jars)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = archive.with_name(f"{archive.name}.{dead.stdout.strip()}.partial")
    archive.parent.mkdir(parents=True)
    stale.write_bytes(b"half an archive")  # a run killed while writing
    flags, partial = spark_submit.cds_options(jars)
    assert partial == archive.with_name(f"{archive.name}.{os.getpid()}.partial")
    assert flags == f"-XX:ArchiveClassesAtExit={partial}"
    assert not stale.exists()
    archive.write_bytes(b"")
    assert spark_submit.cds_options(jars) == (f"-XX:SharedArchiveFile={archive} -Xshare:auto", None)


@pytest.mark.skipif(JAVA is None, reason="needs keytool from a Java runtime")
def test_trust_store_is_a_java_trusted_certificate_entry(tmp_path: Path) -> None:
    proxy = TlsProxy(("127.0.0.1", 9), tmp_path)
    try:
        listed = subprocess.run(
            [
                "keytool",
                "-list",
                "-storetype",
                "PKCS12",
                "-keystore",
                str(proxy.truststore),
                "-storepass",
                proxy.password,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        proxy.close()
    assert "Your keystore contains 1 entry" in listed
    assert "tricloud-local-s3" in listed and "trustedCertEntry" in listed


@pytest.mark.spark
def test_a_job_that_arrives_at_once_is_not_delayed_by_the_warm_up(tmp_path: Path) -> None:
    """The job is on stdin before the session is up: the warm-up is skipped (or cancelled), the counts are the
    job's own (a warm-up that ran first would not change them, but would show in the log)."""
    raw = write_listings(generate(300, seed=3, malformed_fraction=0.1), tmp_path / "raw" / "listings.csv")
    job = {
        "input": raw.as_uri(),
        "output": (tmp_path / "curated").as_uri(),
        "quarantine": (tmp_path / "quarantine").as_uri(),
        "env": {},
    }
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # s3a is configured, never used: the URIs are local files
        "TRICLOUD_SPARK_LOCAL_DIR": str(tmp_path / "local"),
        "TRICLOUD_SPARK_CDS": "off",
        "TRICLOUD_SPARK_WARMUP": "1",
        "PYSPARK_PYTHON": sys.executable,
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "tricloud.emulate.spark_submit", "--wait"],
        input=json.dumps(job) + "\n",
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("TRICLOUD_COUNTS "))
    counts = json.loads(line.removeprefix("TRICLOUD_COUNTS "))
    assert counts["input_rows"] == 300 and counts["valid_rows"] + counts["quarantined_rows"] == 300
    assert counts["quarantined_rows"] > 0  # 10 % malformed on purpose
    assert "warm-up skipped" in done.stderr or "warm-up stopped" in done.stderr, done.stderr[-2000:]
    assert "warm-up: the job over" not in done.stderr
    assert not any((tmp_path / "local").glob("warmup-*")), "the warm-up's folder is removed"
    print(f"driver start to counts: {time.monotonic() - started:.1f} s")
