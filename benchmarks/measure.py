"""Shared benchmark helper: run a command, sample its peak resident memory, time it."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time

import psutil


def measure(cmd: list[str], cwd=None) -> dict:
    """Run ``cmd`` (in ``cwd``) to completion; return wall seconds, peak RSS (process tree, sampled every 0.2 s) and
    the CPU seconds of the process tree (``cpu_s``, user + system: the work done, whatever else loads the machine)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as log:  # a pipe would block a child that prints a lot
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, cwd=cwd)
        ps = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            try:
                rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
                peak = max(peak, rss)
            except psutil.NoSuchProcess:
                pass
            time.sleep(0.2)
        log.seek(0)
        output = log.read()
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{output}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {
        "seconds": round(time.perf_counter() - start, 1),
        "peak_rss_gb": round(peak / 2**30, 2),
        "cpu_s": round(cpu, 1),
        "output": output,
    }


def machine() -> dict:
    """What the figures were measured on."""
    import os
    import platform

    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30),
        "python": platform.python_version(),
    }


def run_child_and_record(script: str, args: list[str], result_name) -> dict:
    """Run ``script --child args…`` measured; merge its last JSON line with time and peak RSS; save it.

    ``result_name(result)`` gives the file name under benchmarks/results/.
    """
    import json
    from pathlib import Path

    m = measure([sys.executable, script, "--child", *args])
    result = {
        **json.loads(m.pop("output").strip().splitlines()[-1]),
        "total_s": m["seconds"],
        "peak_rss_gb": m["peak_rss_gb"],
    }
    out = Path(script).resolve().parent / "results" / result_name(result)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return result


def validated_month_main(script: str, doc: str, run, prefix: str) -> None:
    """The command line shared by benchmarks that take a validated snapshot and a month: parse, run
    ``run(validated, month, scratch dir)`` in a measured child, record ``<prefix>_<entities>.json``."""
    import argparse
    import json
    import tempfile
    from pathlib import Path

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--validated", type=Path, required=True)
    ap.add_argument("--month", default="2026-10")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run(args.validated, args.month, Path(tmp))))
        return
    run_child_and_record(
        script, ["--validated", str(args.validated), "--month", args.month], lambda r: f"{prefix}_{r['entities']}.json"
    )
