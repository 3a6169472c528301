"""Wall time of `tricloud inventory aws --json` (a full stack program under the recording mocks) against two peers.

Peers, measured in the same run with the same interpreter:
- `interpreter`: `python -c pass` - process start, the floor of any CLI call;
- `imports`: importing (and loading) pulumi and exactly the pulumi_aws submodules the AWS components use - the
  floor of any Pulumi program on this stack. inventory / imports says what the mocks run (resource registration, outputs,
  recording, JSON) adds on top of loading the SDKs.

Usage: .venv/bin/python benchmarks/inventory.py [--runs N] [--cloud aws]
Also checks that every run printed the same bytes (the inventory is deterministic).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AWS_MODULES = (
    "s3", "kms", "iam", "glue", "athena", "emrserverless", "emr", "ecr", "sagemaker",
    "appautoscaling", "cloudwatch", "sns", "lambda_", "apigatewayv2",
)  # fmt: skip


def timed(cmd: list[str]) -> tuple[float, bytes]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.decode()[-2000:]}")
    return elapsed, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="runs per command (default 5)")
    ap.add_argument("--cloud", default="aws", choices=("aws", "azure", "gcp"))
    a = ap.parse_args()
    if a.runs < 1:
        raise SystemExit(f"--runs = {a.runs}: must be at least 1")
    py = sys.executable
    # pulumi_aws submodules load lazily; any attribute access (hasattr) forces the real load, as a program's does.
    imports = "import pulumi; " + "; ".join(
        f"import pulumi_aws.{m} as m{i}; hasattr(m{i}, '__all__')" for i, m in enumerate(AWS_MODULES)
    )
    commands = {
        "interpreter": [py, "-c", "pass"],
        "imports": [py, "-c", imports],
        f"inventory {a.cloud}": [py, "-m", "tricloud", "inventory", a.cloud, "--json"],
    }
    times: dict[str, list[float]] = {k: [] for k in commands}
    digests: set[str] = set()
    for _ in range(a.runs):  # interleaved, so load on the machine affects every command alike
        for label, cmd in commands.items():
            t, out = timed(cmd)
            times[label].append(t)
            if label.startswith("inventory"):
                digests.add(hashlib.sha256(out).hexdigest())
    inv_label = f"inventory {a.cloud}"
    inv_median = statistics.median(times[inv_label])
    print(f"{'command':<16} {'median s':>9} {'min s':>7} {'max s':>7} {'inventory / this':>17}")
    for label, ts in times.items():
        med = statistics.median(ts)
        print(f"{label:<16} {med:>9.3f} {min(ts):>7.3f} {max(ts):>7.3f} {inv_median / med:>16.2f}x")
    print(
        "\ninterpreter = process start; imports = loading pulumi + the pulumi_aws modules the components use (the"
        " floor of any program on this stack).\ninventory / imports is what running the program under the"
        " recording mocks adds on top of that floor."
    )
    print(f"runs: {a.runs}; identical inventory output across runs: {len(digests) == 1}")
    if len(digests) != 1:
        raise SystemExit("inventory output differed between runs")


if __name__ == "__main__":
    main()
