"""`python -m tricloud.emulate.spark_submit --input URI --output URI --quarantine URI`: the feature job in local
mode against the emulated lake through s3a, as EMR Serverless would run `app/features` against S3.

A separate process, like spark-submit: the JVM (~800 MB) lives and dies with it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
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
        "fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "fs.s3a.access.key": os.environ["AWS_ACCESS_KEY_ID"],
        "fs.s3a.secret.key": os.environ["AWS_SECRET_ACCESS_KEY"],
        "fs.s3a.endpoint.region": os.environ.get("AWS_REGION", "us-east-1"),
    }
    builder = (
        SparkSession.builder.master(os.environ.get("TRICLOUD_SPARK_MASTER", "local[2]"))
        .appName(app_name)
        .config("spark.jars", ",".join(s3a_jars()))
        .config("spark.ui.enabled", "false")  # no web UI port: nothing listens beyond the driver on loopback
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.extraJavaOptions", os.environ.get("TRICLOUD_JAVA_OPTIONS", ""))
        .config("spark.driver.memory", os.environ.get("TRICLOUD_SPARK_MEMORY", "1g"))
    )
    for k, v in hadoop.items():
        builder = builder.config(f"spark.hadoop.{k}", v)
    return builder.getOrCreate()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tricloud.emulate.spark_submit")
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--quarantine", required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from app.features.job import run

    spark = session()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        counts = run(spark, args.input, args.output, args.quarantine)
    finally:
        spark.stop()
    sys.stdout.write("TRICLOUD_COUNTS " + json.dumps(counts) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
