"""`python -m bench [NAME [ARGS...]]`: run every benchmark module here, or the one named.

A benchmark is a module of this package with a `main(argv) -> int`.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def benchmarks() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    names = benchmarks()
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip() + "\n\nBenchmarks: " + ", ".join(names))
        return 0
    if argv and argv[0] in names:
        return importlib.import_module(f"bench.{argv[0]}").main(argv[1:])
    if argv:
        print(f"unknown benchmark {argv[0]!r}; have: {', '.join(names)}", file=sys.stderr)
        return 2
    status = 0
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        if hasattr(module, "main"):
            print(f"== bench.{name}", flush=True)
            status = module.main([]) or status
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
