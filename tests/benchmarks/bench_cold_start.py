"""Cold start of each API function: the import time of its handler module against the bare import of its
dependencies, measured in fresh interpreters, and a check that no API function imports pyarrow.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from functions.families import FAMILIES

RUNS = 5
# What every API function needs anyway: the baseline a handler's own cost is compared against.
BASELINE = "import aws_lambda_powertools.event_handler, pydantic, boto3, pynamodb.models, jwt"
# The same plus the X-Ray SDK, which Powertools' Tracer imports (and whose import builds two botocore
# clients for its sampler) even with tracing disabled: the part of "own ms" that is the tracer's.
WITH_XRAY = BASELINE + ", aws_xray_sdk.core"

PROBE = """
import json, sys, time
t0 = time.perf_counter()
exec(sys.argv[1])
t1 = time.perf_counter()
print(json.dumps({"ms": (t1 - t0) * 1000, "pyarrow": "pyarrow" in sys.modules}))
"""


def _measure(statement: str) -> tuple[float, bool]:
    samples, pyarrow = [], False
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-X", "frozen_modules=on", "-c", PROBE, statement],
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": "", "POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"},
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        samples.append(result["ms"])
        pyarrow |= result["pyarrow"]
    return statistics.median(samples), pyarrow


def main() -> None:
    base_ms, _ = _measure(BASELINE)
    xray_ms, _ = _measure(WITH_XRAY)
    print(f"median of {RUNS} fresh interpreters; baseline = bare import of the API dependencies "
          f"({base_ms:.0f} ms; {xray_ms:.0f} ms with the X-Ray SDK the tracer imports)")  # fmt: skip
    print(f"{'function':<12} {'import ms':>10} {'baseline ms':>12} {'ratio':>7} {'own ms':>8} "
          f"{'ratio to baseline + X-Ray':>26}  pyarrow")  # fmt: skip
    for family in FAMILIES:
        ms, pyarrow = _measure(f"import functions.{family}.handler")
        print(
            f"{family:<12} {ms:>10.0f} {base_ms:>12.0f} {ms / base_ms:>7.2f} {ms - base_ms:>8.0f} "
            f"{ms / xray_ms:>26.2f}  {'IMPORTED (defect)' if pyarrow else 'no'}"
        )
