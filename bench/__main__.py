"""Run every benchmark module in this package (each ``bench/NAME.py`` with a ``main()``).

``python -m bench`` runs them all; ``python -m bench asr latency`` runs the named ones.
Each benchmark prints its own table (with the machine) and writes JSON to bench-results/.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    names = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not m.name.startswith("_")
    )
    wanted = (argv if argv is not None else sys.argv[1:]) or names
    unknown = [n for n in wanted if n not in names]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {names}", file=sys.stderr)
        return 2
    failed: list[str] = []
    for name in wanted:
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "main"):
            continue
        print(f"\n=== bench.{name} ===", flush=True)
        started = time.perf_counter()
        try:
            rc = module.main([])
        except Exception:
            traceback.print_exc()
            rc = 1
        status = "ok" if not rc else "FAILED"
        print(f"=== bench.{name}: {status} in {time.perf_counter() - started:.0f} s")
        if rc:
            failed.append(name)
    if failed:
        print(f"failed benchmarks: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
