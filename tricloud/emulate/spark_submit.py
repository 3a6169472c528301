"""`python -m tricloud.emulate.spark_submit --input URI --output URI --quarantine URI`: the feature job in local
mode against the emulated lake through s3a, as EMR Serverless would run `app/features` against S3.

A separate process, like spark-submit: the JVM (~800 MB) lives and dies with it (PySpark's JVM exits when its
Python parent's pipe closes). With `--wait` the session starts at once and the job arrives later as one JSON line
on stdin (URIs and the job role's credentials): the platform starts the JVM while it applies the stack, which takes
the JVM's start-up (~5 s on 2 cores) off the run's critical path.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
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


def session(app_name: str = "tricloud-features"):
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
        .config("spark.jars", ",".join(s3a_jars()))
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
            f"{JVM_OPTIONS} {os.environ.get('TRICLOUD_JAVA_OPTIONS', '')}".strip(),
        )
        .config("spark.driver.memory", os.environ.get("TRICLOUD_SPARK_MEMORY", "1g"))
    )
    for k, v in hadoop.items():
        builder = builder.config(f"spark.hadoop.{k}", v)
    return builder.getOrCreate()


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

    spark = session()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        if args.wait:
            sys.stdout.write("TRICLOUD_READY\n")
            sys.stdout.flush()
            line = sys.stdin.readline()
            if not line:
                return 1  # the platform went away before sending the job
            job = json.loads(line)
            conf = spark.sparkContext._jsc.hadoopConfiguration()
            for k, v in credentials(job.get("env") or {}).items():
                conf.set(k, v)  # before the first s3a access: the file system reads them when it is created
            args.input, args.output, args.quarantine = job["input"], job["output"], job["quarantine"]
        counts = run(spark, args.input, args.output, args.quarantine)
    finally:
        spark.stop()
    sys.stdout.write("TRICLOUD_COUNTS " + json.dumps(counts) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
