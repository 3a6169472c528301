"""``python -m app.features --input URI --output URI --quarantine URI`` (also a spark-submit entry)."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.features", description=__doc__)
    parser.add_argument("--input", required=True, help="raw listings, CSV or Parquet (file or folder URI)")
    parser.add_argument("--output", required=True, help="curated Parquet URI (partitioned by city)")
    parser.add_argument("--quarantine", required=True, help="URI for rejected rows with their reasons")
    parser.add_argument("--format", choices=["csv", "parquet"], default=None, help="default: by extension")
    args = parser.parse_args(argv)

    from pyspark.sql import SparkSession

    from app.features.job import run

    # No master and no storage settings here: spark-submit / the platform provides them.
    spark = SparkSession.builder.appName("tricloud-features").getOrCreate()
    try:
        counts = run(spark, args.input, args.output, args.quarantine, input_format=args.format)
    finally:
        spark.stop()
    json.dump(counts, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
