"""Benchmark: what masking secrets and bounding JSON depth cost on every API answer.

    .venv/bin/python bench/masking.py [--records 5000] [--runs 10]

Builds a Vtiger-like answer (``--records`` records of 20 fields, about 4 MB for 5,000) and
times, per answer: ``json.loads`` (for scale), the depth bound of ``connections.safejson``, the
masker's quick test when no secret is in the answer (what every sync page and Send pays), and
masking an answer that echoes the secret (the rare case: an echo endpoint) as
``Client.to_response`` does: the text's 2,000-character head and every string of the data. The secrets are a
Vtiger Cloud connection's: the access key and its ``Authorization: Basic`` value. Prints the
median of ``--runs`` per step, then one JSON object as the last line.
"""

import argparse
import base64
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connections import masking, safejson  # noqa: E402

ACCESS_KEY = "Xk29fLq0RmT7vB3w"
USERNAME = "demo"


def _answer(records, echo=False):
    rows = [{f"field{j}": f"value {i} {j} é/ü" for j in range(20)} for i in range(records)]
    if echo:
        rows[-1]["debug"] = f"api_key={ACCESS_KEY.replace('/', '%2F')}"
    return json.dumps({"success": True, "result": rows}).replace("/", "\\/")  # as PHP writes it


def _median_ms(step, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    basic = "Basic " + base64.b64encode(f"{USERNAME}:{ACCESS_KEY}".encode()).decode()
    masker = masking.masker_for({ACCESS_KEY, basic}, {USERNAME})
    clean, echoing = _answer(args.records), _answer(args.records, echo=True)
    data, echo_data = json.loads(clean), json.loads(echoing)
    assert not masker.found_in(clean) and masker.found_in(echoing)
    figures = {
        "bytes": len(clean.encode()),
        "json_loads_ms": _median_ms(lambda: json.loads(clean), args.runs),
        "depth_bound_ms": _median_ms(lambda: safejson.deeper_than(data, safejson.MAX_DEPTH), args.runs),
        "quick_test_ms": _median_ms(lambda: masker.found_in(clean), args.runs),
        "mask_echoing_answer_ms": _median_ms(
            lambda: (masker.mask_head(echoing, 2000), masker.mask_data(echo_data)), max(1, args.runs // 3)
        ),
    }
    print(f"answer of {args.records} records, {figures['bytes'] / 1e6:.1f} MB (medians of {args.runs} runs):")
    print(f"  json.loads, for scale        {figures['json_loads_ms']:8.1f} ms")
    print(f"  depth bound (safejson)       {figures['depth_bound_ms']:8.1f} ms")
    print(f"  masker quick test, no secret {figures['quick_test_ms']:8.1f} ms")
    print(f"  masking an echoing answer    {figures['mask_echoing_answer_ms']:8.1f} ms")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
