"""`make bench`: runs every tests/benchmarks/bench_*.py module's `main()` in turn and prints its table.

Each benchmark prints its own figures beside a baseline measured in the same process, as ratios.
`python -m tests.benchmarks NAME ...` runs only the named ones (e.g. `cold_start`).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import tests.benchmarks as pkg


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("bench_"))
    wanted = [f"bench_{a.removeprefix('bench_')}" for a in argv]
    for name in wanted or names:
        if name not in names:
            print(f"no benchmark named {name}; have: {', '.join(names)}", file=sys.stderr)
            return 2
        started = time.perf_counter()
        print(f"\n=== {name}")
        importlib.import_module(f"tests.benchmarks.{name}").main()
        print(f"--- {name} took {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
