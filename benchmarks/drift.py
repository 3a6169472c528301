"""Drift benchmark: does the drift rule meet its targets, and what does one run of the job cost?

    .venv/bin/python benchmarks/drift.py [--seeds 40] [--rows 1000] [--job-rows 1000000] [--rounds 3]
        [--evidently-python PATH]

1. The reference: `python -m app.train`'s own output (a model trained on 20,000 generated listings, and the
   reference.json it writes next to the model).
2. False alarms: fresh listings from the same generator, one window of --rows captured rows per seed, the model's
   predictions attached as the API would capture them; the share of windows that raise the alarm (target <= 5%).
3. Detection: the same windows with ONE numeric field moved by 0.5 reference SDs (every numeric field in turn);
   the share of windows whose alarm is raised with that field named (target >= 95%).
4. The job's time for --job-rows captured rows (capture lines in Firehose's hourly layout on local disk, read,
   judged, summary + HTML written), and the comparison step alone against a named peer measured in the same run:
   the same tests through SciPy (scipy.stats.ks_2samp / chi2_contingency / wasserstein_distance).
5. With --evidently-python (an interpreter with Evidently installed): Evidently's import time, for the record.

Prints tables with medians over --rounds and the ratio against the peer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from app.artifact import MODEL_FILE, REFERENCE_FILE  # noqa: E402
from app.data import generate, write_listings  # noqa: E402
from app.features import featurize_frame  # noqa: E402
from app.monitor.drift import compare  # noqa: E402
from app.monitor.job import JobArgs, run  # noqa: E402
from app.monitor.profile import CATEGORICAL, NUMERIC, PREDICTION, load_profile, window_from_columns  # noqa: E402
from app.schema import FIELD_NAMES  # noqa: E402
from app.train import Hyperparameters, train  # noqa: E402


def train_reference(work: Path):
    data = work / "listings.csv"
    write_listings(generate(20_000, seed=1), data)
    result = train(data, work / "model", Hyperparameters())
    import joblib

    return load_profile(work / "model" / REFERENCE_FILE), joblib.load(work / "model" / MODEL_FILE), result


def window_columns(frame, model) -> dict[str, list]:
    cols = {n: frame[n].tolist() for n in FIELD_NAMES}
    cols[PREDICTION] = np.exp(model.predict(featurize_frame(frame))).tolist()
    return cols


def rates(profile, model, seeds: int, rows: int) -> tuple[float, dict[str, tuple[float, float]]]:
    kinds = {k: f.kind for k, f in profile.features.items()}
    all_kinds = {**kinds, PREDICTION: NUMERIC}
    numeric = [k for k, kind in kinds.items() if kind == NUMERIC]
    false_alarms = 0
    detected = {f: [0, 0] for f in numeric}  # alarm with the field named, alarm at all
    for s in range(seeds):
        frame = generate(rows, seed=10_000 + s)
        false_alarms += compare(profile, window_from_columns(window_columns(frame, model), all_kinds)).alarm
        for f in numeric:
            moved = frame.copy()
            moved[f] = moved[f] + 0.5 * profile.features[f].std
            r = compare(profile, window_from_columns(window_columns(moved, model), all_kinds))
            detected[f][0] += r.alarm and f in r.drifted_features
            detected[f][1] += r.alarm
    return false_alarms / seeds, {f: (a / seeds, b / seeds) for f, (a, b) in detected.items()}


def write_capture(root: Path, rows: int, end: dt.datetime, model, model_version: str) -> int:
    """`rows` capture records as Firehose delivers them: hourly prefixes, newline-delimited JSON, 4,000 per object."""
    frame = generate(rows, seed=77)
    frame["prediction"] = np.exp(model.predict(featurize_frame(frame)))
    records = frame[[*FIELD_NAMES, "prediction"]].to_dict("records")
    start = end - dt.timedelta(hours=24)
    written = 0
    for i in range(0, rows, 4000):
        t = start + dt.timedelta(seconds=(i / rows) * 86_000)
        folder = root / f"dt={t:%Y-%m-%d}" / f"hour={t:%H}"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = t.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        lines = []
        for j, rec in enumerate(records[i : i + 4000]):
            doc = {"event": "capture", "v": 1, "ts": stamp, "request_id": f"r{i + j}", "row": 0, "cloud": "aws",
                   "model_version": model_version, "fallback": False, "latency_ms": 12.5, **rec}  # fmt: skip
            lines.append(json.dumps(doc, separators=(",", ":")))
        path = folder / f"capture-{i:08d}"
        path.write_text("\n".join(lines) + "\n")
        written += path.stat().st_size
    return written


def scipy_compare(profile, window) -> int:
    """The peer: the same family of tests (KS / chi-square, Wasserstein / JS, Holm) through SciPy."""
    import scipy.stats as st
    from scipy.spatial.distance import jensenshannon

    from app.monitor.stats import holm

    pvals = []
    for name, ref in profile.features.items():
        col = window.columns[name]
        if ref.kind == CATEGORICAL:
            cats = sorted(set(ref.counts) | {str(v) for v in col if v is not None})
            cur = {c: 0 for c in cats}
            for v in col:
                if v is not None:
                    cur[str(v)] += 1
            table = [[ref.counts.get(c, 0) for c in cats], [cur[c] for c in cats]]
            pvals.append(st.chi2_contingency(table, correction=False)[1])
            jensenshannon(table[0], table[1], base=2)
        else:
            cur = col[~np.isnan(col)]
            pvals.append(st.ks_2samp(ref.values, cur, method="asymp").pvalue)
            st.wasserstein_distance(ref.values, cur)
    return len(holm(pvals))


def median_time(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=40)
    p.add_argument("--rows", type=int, default=1000)
    p.add_argument("--job-rows", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument(
        "--evidently-python", help="an interpreter with Evidently installed: measure its import time"
    )
    a = p.parse_args()
    if a.seeds < 20:
        p.error("--seeds must be at least 20 (the false-alarm target is a rate over >= 20 windows)")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        profile, model, trained = train_reference(work)
        print(f"reference: model {trained.version}, {profile.features['city'].n} training rows, "
              f"{profile.prediction.n if profile.prediction else 0} held-out predictions")  # fmt: skip

        fa, det = rates(profile, model, a.seeds, a.rows)
        print(f"\n## Drift rule at {a.rows} captured rows per window, {a.seeds} seeds")
        print(f"{'window':<50} {'alarm rate':>10} {'target':>8}")
        print(f"{'in distribution':<50} {fa:>10.1%} {'<= 5%':>8}")
        for f, (named, any_alarm) in det.items():
            print(f"{f + ' +0.5 SD (named / any alarm)':<44} {named:>4.0%} / {any_alarm:>4.0%} {'>= 95%':>8}")
        worst = min(n for n, _ in det.values())
        print(f"verdict: false alarms {'PASS' if fa <= 0.05 else 'FAIL'}, "
              f"detection {'PASS' if worst >= 0.95 else 'FAIL'} (worst field {worst:.0%})")  # fmt: skip

        capture = work / "capture"
        end = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
        t0 = time.perf_counter()
        size = write_capture(capture, a.job_rows, end, model, trained.version)
        print(f"\n## Drift job over {a.job_rows:,} captured rows ({size / 1e6:.0f} MB of capture lines, "
              f"written in {time.perf_counter() - t0:.1f} s)")  # fmt: skip
        ref_uri = str(work / "model" / REFERENCE_FILE)
        summary: dict = {}

        def job() -> None:
            summary.update(run(JobArgs(capture=str(capture), reference=ref_uri, output=str(work / "reports"),
                                       window_hours=24, end=end)))  # fmt: skip

        job_s = median_time(job, a.rounds)
        from app.monitor.capture import window_from_records
        from app.monitor.job import read_window

        records = read_window(str(capture), end - dt.timedelta(hours=24), end)
        kinds = {k: f.kind for k, f in profile.features.items()}
        window = window_from_records(records, kinds)
        del records
        ours = median_time(lambda: compare(profile, window), a.rounds)
        peer = median_time(lambda: scipy_compare(profile, window), a.rounds)
        print(f"{'step':<44} {'median s':>9} {'rows/s':>12}")
        print(f"{'whole job (read, judge, summary + HTML)':<44} {job_s:>9.2f} {a.job_rows / job_s:>12,.0f}")
        print(f"{'compare only: ours (numpy)':<44} {ours:>9.2f} {a.job_rows / ours:>12,.0f}")
        print(f"{'compare only: peer (SciPy, same tests)':<44} {peer:>9.2f} {a.job_rows / peer:>12,.0f}")
        print(
            f"ratio ours/peer (compare): {ours / peer:.2f}; job verdict on this window: {summary.get('status')}"
        )

    if a.evidently_python:
        code = "import time;t=time.perf_counter();from evidently import Report;from evidently.presets import " \
               "DataDriftPreset;print(time.perf_counter()-t)"  # fmt: skip
        base = "import time;t=time.perf_counter();import numpy;print(time.perf_counter()-t)"
        ev = [float(subprocess.check_output([a.evidently_python, "-c", code])) for _ in range(a.rounds)]
        np_t = [float(subprocess.check_output([sys.executable, "-c", base])) for _ in range(a.rounds)]
        print("\n## Import time (fresh interpreter)")
        print(f"evidently Report + DataDriftPreset: {statistics.median(ev):.2f} s; "
              f"app.monitor's only dependency (numpy): {statistics.median(np_t):.2f} s; "
              f"ratio {statistics.median(ev) / statistics.median(np_t):.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
