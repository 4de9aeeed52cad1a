"""Benchmark: how long the sandbox takes to generate its two years of seeded data.

    .venv/bin/python bench/sandbox_data.py [--runs N]

Every test run and every `make run` starts a sandbox, which generates its data set first, so
this is start-up time paid everywhere. Prints p50 and the slowest run, then one JSON object as
the last line. The sandbox imports nothing from the product, so no database is needed.
"""

import argparse
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.data import generate_dataset  # noqa: E402 - after the path is set


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    timings = []
    for run in range(args.runs):
        started = time.perf_counter()
        generate_dataset(seed=99 + run, today=date(2026, 11, 15))
        timings.append((time.perf_counter() - started) * 1000)
    p50, slowest = statistics.median(timings), max(timings)
    print(f"sandbox data generation: p50 {p50:.0f} ms, slowest {slowest:.0f} ms over {args.runs} runs")
    print(json.dumps({"sandbox_data_ms": {"p50": round(p50, 1), "max": round(slowest, 1), "runs": args.runs}}))


if __name__ == "__main__":
    main()
