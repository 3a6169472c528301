"""`python -m tricloud.emulate.spark_submit --input URI --output URI --quarantine URI`: the feature job in local
mode against the emulated lake through s3a, as EMR Serverless would run `app/features` against S3.

A separate process, like spark-submit: the JVM (~800 MB) lives and dies with it (PySpark's JVM exits when its
Python parent's pipe closes). With `--wait` the session starts at once and the job arrives later as one JSON line
on stdin (URIs and the job role's credentials): the platform starts the JVM while it applies the stack.

A cold JVM spends most of a 5,000-row job loading classes, compiling Spark's generated code and JIT-compiling
(measured: the first run of the job 14-18 s, the second 4 s). Two things take that off the critical path:
- a class-data archive (AppCDS, `TRICLOUD_SPARK_CDS`: a folder; `off` disables): the first run writes the classes
  it loaded into `spark-<key>.jsa` when its JVM exits, later runs map them instead of parsing and verifying ~20,000
  classes from 250 jars; the key covers the Java runtime, the classpath and the JVM flags, so a changed install gets
  a new archive (and a stale one is ignored by the JVM, never fatal);
- with `--wait`, a warm-up while the job has not arrived (`TRICLOUD_SPARK_WARMUP=0` disables): the feature job itself
  over 200 generated rows on local disk (nothing touches the lake), and one TLS handshake with the S3 front, so the
  job's code is compiled and the TLS and S3A classes are loaded when the real input arrives.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path


def s3a_jars() -> list[str]:
    """hadoop-aws and the AWS SDK bundle shipped inside the `sagemaker-pyspark` wheel (Hadoop 3.3 line)."""
    try:
        import sagemaker_pyspark
    except ImportError:
        raise SystemExit(
            "s3a needs the hadoop-aws jars from sagemaker-pyspark: "
            ".venv/bin/pip install --no-deps 'sagemaker-pyspark==1.4.5'"
        ) from None
    jars = Path(sagemaker_pyspark.__file__).parent / "jars"
    wanted = [*jars.glob("hadoop-aws-*.jar"), *jars.glob("aws-java-sdk-bundle-*.jar")]
    if len(wanted) != 2:
        raise SystemExit(f"expected hadoop-aws and aws-java-sdk-bundle jars in {jars}, found {wanted}")
    return [str(p) for p in wanted]


JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:-UsePerfData -Xss4m"
# JVM warnings to stderr (spark.log), never stdout (the platform reads TRICLOUD_* lines there); the CDS messages (one
# per class the archive cannot hold, e.g. from signed jars) are noise.
JVM_LOGGING = "-Xlog:disable -Xlog:all=warning:stderr -Xlog:cds*=off:stderr"
WARMUP_ROWS = 200
WARMUP_GROUP = "tricloud-warm-up"


def _java() -> Path | None:
    home = os.environ.get("JAVA_HOME")
    found = Path(home) / "bin" / "java" if home else None
    if found is None or not found.exists():
        which = shutil.which("java")
        found = Path(which) if which else None
    return found.resolve() if found else None


def cds_archive(folder: Path, classpath: list[str]) -> Path:
    """The archive for this Java runtime, Spark install, extra classpath and flags (a new key when any changes)."""
    import pyspark

    java = _java()
    jars = sorted(p.name for p in (Path(pyspark.__file__).parent / "jars").glob("*.jar"))
    parts = [str(java), str(java.stat().st_mtime_ns if java else 0), pyspark.__version__, *jars]
    parts += [f"{p}:{Path(p).stat().st_size}" for p in classpath] + [JVM_OPTIONS]
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    return folder / f"spark-{key}.jsa"


def cds_options(classpath: list[str]) -> tuple[str, Path | None]:
    """(JVM flags, archive being written or None): map the archive if it exists, else write it at exit."""
    folder = os.environ.get("TRICLOUD_SPARK_CDS", "")
    if not folder or folder == "off" or _java() is None:
        return "", None
    archive = cds_archive(Path(folder), classpath)
    if archive.exists():
        return f"-XX:SharedArchiveFile={archive} -Xshare:auto", None
    archive.parent.mkdir(parents=True, exist_ok=True)
    for stale in archive.parent.glob("spark-*.jsa.*.partial"):  # a run killed while writing
        if not Path(f"/proc/{stale.name.split('.')[-2]}").exists():
            stale.unlink(missing_ok=True)
    partial = archive.with_name(
        f"{archive.name}.{os.getpid()}.partial"
    )  # renamed once the JVM exited cleanly
    return f"-XX:ArchiveClassesAtExit={partial}", partial


def credentials(env: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """s3a credentials from AWS_* variables; a session token (a role's credentials) needs the temporary provider."""
    if not env.get("AWS_ACCESS_KEY_ID"):
        return {}
    out = {"fs.s3a.access.key": env["AWS_ACCESS_KEY_ID"], "fs.s3a.secret.key": env["AWS_SECRET_ACCESS_KEY"]}
    if env.get("AWS_SESSION_TOKEN"):
        out["fs.s3a.session.token"] = env["AWS_SESSION_TOKEN"]
        out["fs.s3a.aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
    else:
        out["fs.s3a.aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
    return out


def _jvm_dies_with_this_process() -> None:
    """PySpark's JVM exits when its stdin closes, but not while it writes its class-data archive: on Linux it also
    gets the parent-death signal every process of the platform gets (tricloud.emulate.processes)."""
    if not sys.platform.startswith("linux"):
        return
    import pyspark.java_gateway as gateway

    from tricloud.emulate.processes import _die_with_parent

    popen = gateway.Popen

    def with_signal(*args, **kwargs):
        inner, parent = kwargs.get("preexec_fn"), os.getpid()

        def preexec() -> None:  # pragma: no cover - runs in the child between fork and exec
            if inner is not None:
                inner()
            _die_with_parent(parent)

        return popen(*args, **{**kwargs, "preexec_fn": preexec})

    gateway.Popen = with_signal


def session(app_name: str = "tricloud-features", cds: str = ""):
    from pyspark.sql import SparkSession

    # TRICLOUD_S3A_ENDPOINT: the TLS front (tricloud.emulate.tls) that SSE-KMS copies need.
    endpoint = (
        os.environ.get("TRICLOUD_S3A_ENDPOINT")
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ["AWS_ENDPOINT_URL"]
    )
    hadoop = {
        "fs.s3a.endpoint": endpoint,
        "fs.s3a.path.style.access": "true",
        "fs.s3a.connection.ssl.enabled": "true" if endpoint.startswith("https://") else "false",
        "fs.s3a.endpoint.region": os.environ.get("AWS_REGION", "us-east-1"),
        # Commit by rename once per job, not per task and job (fewer copies through the emulator).
        "mapreduce.fileoutputcommitter.algorithm.version": "2",
        **credentials(os.environ),
    }
    builder = (
        SparkSession.builder.master(os.environ.get("TRICLOUD_SPARK_MASTER", "local[2]"))
        .appName(app_name)
        # On the JVM's own classpath, not spark.jars (a Spark class loader): local mode needs no shipping, and
        # only classes of the JVM's class path go into the class-data archive.
        .config("spark.driver.extraClassPath", os.pathsep.join(s3a_jars()))
        .config("spark.ui.enabled", "false")  # no web UI port: nothing listens beyond the driver on loopback
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config(
            "spark.sql.shuffle.partitions", "2"
        )  # 5,000-200,000 rows: two partitions keep both cores busy
        .config("spark.default.parallelism", "2")
        .config("spark.local.dir", os.environ.get("TRICLOUD_SPARK_LOCAL_DIR", tempfile.gettempdir()))
        # JIT tier 1 only, serial GC, no perf-data file: a short job gains more from a fast start than from C2.
        .config(
            "spark.driver.extraJavaOptions",
            f"{JVM_OPTIONS} {JVM_LOGGING} {cds} {os.environ.get('TRICLOUD_JAVA_OPTIONS', '')}".strip(),
        )
        .config("spark.driver.memory", os.environ.get("TRICLOUD_SPARK_MEMORY", "1g"))
    )
    for k, v in hadoop.items():
        builder = builder.config(f"spark.hadoop.{k}", v)
    return builder.getOrCreate()


def warm_up(spark, workdir: Path, stop: threading.Event) -> str:
    """The feature job over generated rows on local disk, and a TLS handshake with the S3 front: the JVM loads,
    generates and compiles what the real job needs while the platform is still applying the stack."""
    from app.data.generator import generate, write_listings
    from app.features.job import run

    started = time.perf_counter()
    if stop.is_set():
        return "warm-up skipped: the job was there first"
    raw = write_listings(generate(WARMUP_ROWS, seed=7, malformed_fraction=0.05), workdir / "listings.csv")
    run(spark, raw.as_uri(), (workdir / "curated").as_uri(), (workdir / "quarantine").as_uri())
    endpoint = os.environ.get("TRICLOUD_S3A_ENDPOINT", "")
    # JSSE and the trust store initialised by one handshake; no request reaches the lake.
    if endpoint.startswith("https://") and not stop.is_set():
        host, _, port = endpoint.removeprefix("https://").partition(":")
        sock = spark.sparkContext._jvm.javax.net.ssl.SSLSocketFactory.getDefault().createSocket(
            host, int(port or 443)
        )
        try:
            sock.startHandshake()
        finally:
            sock.close()
    spark.sparkContext._jvm.java.lang.Class.forName("org.apache.hadoop.fs.s3a.S3AFileSystem")  # hadoop-aws
    return f"warm-up: the job over {WARMUP_ROWS} local rows in {time.perf_counter() - started:.1f} s"


def wait_for_job(spark) -> str:
    """The job's line from stdin; meanwhile the warm-up, whose Spark jobs are cancelled the moment the line arrives
    (a warm-up only uses idle time: it never delays the job)."""
    sc = spark.sparkContext
    got: list[str] = []
    arrived, warmed = threading.Event(), threading.Event()

    def read() -> None:
        got.append(sys.stdin.readline())
        arrived.set()
        while not warmed.wait(0.1):  # a cancel reaches only running jobs: repeat until the warm-up gave up
            sc.cancelJobGroup(WARMUP_GROUP)

    threading.Thread(target=read, daemon=True).start()
    if os.environ.get("TRICLOUD_SPARK_WARMUP", "1") != "0":
        local = Path(os.environ.get("TRICLOUD_SPARK_LOCAL_DIR", tempfile.gettempdir()))
        workdir = Path(tempfile.mkdtemp(prefix="warmup-", dir=local))
        sc.setJobGroup(WARMUP_GROUP, "warm-up before the job arrives", interruptOnCancel=True)
        try:
            print(warm_up(spark, workdir, arrived), file=sys.stderr)
        except Exception as exc:  # cancelled (the job came) or failed: the job runs as it would cold
            print(f"warm-up stopped: {str(exc).splitlines()[0][:200]}", file=sys.stderr)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            sc.setJobGroup("tricloud-features", "the feature job")
    warmed.set()
    arrived.wait()
    return got[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tricloud.emulate.spark_submit")
    parser.add_argument("--input")
    parser.add_argument("--output")
    parser.add_argument("--quarantine")
    parser.add_argument("--wait", action="store_true", help="start the session, then read the job from stdin")
    args = parser.parse_args(argv)
    if not args.wait and not (args.input and args.output and args.quarantine):
        parser.error("--input, --output and --quarantine are required (or --wait)")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from app.features.job import run

    cds, partial = cds_options(s3a_jars())
    if cds:
        print(f"class-data archive: {'writing ' + str(partial) if partial else cds}", file=sys.stderr)
    _jvm_dies_with_this_process()
    spark = session(cds=cds)
    spark.sparkContext.setLogLevel("ERROR")
    jvm = spark.sparkContext._gateway.proc
    try:
        if args.wait:
            sys.stdout.write("TRICLOUD_READY\n")
            sys.stdout.flush()
            line = wait_for_job(spark)
            if not line:
                return 1  # the platform went away before sending the job
            job = json.loads(line)
            conf = spark.sparkContext._jsc.hadoopConfiguration()
            for k, v in credentials(job.get("env") or {}).items():
                conf.set(k, v)  # before the first s3a access: the file system reads them when it is created
            args.input, args.output, args.quarantine = job["input"], job["output"], job["quarantine"]
        started = time.perf_counter()
        counts = run(spark, args.input, args.output, args.quarantine)
        print(f"job: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    finally:
        spark.stop()
    sys.stdout.write("TRICLOUD_COUNTS " + json.dumps(counts) + "\n")
    sys.stdout.flush()
    if partial is not None:  # the JVM writes the archive as it exits (its stdin closing tells it to)
        jvm.stdin.close()
        if jvm.wait(timeout=300) == 0 and partial.exists():
            partial.replace(partial.with_name(partial.name.split(".jsa.")[0] + ".jsa"))
        else:
            partial.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
