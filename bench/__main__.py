"""`python -m bench` (`make bench`): the benchmark run; see docs/BENCHMARKS.md.

Example: python -m bench --quick
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK = 0
EXIT_FAILED = 1  # a configuration or measurement did not run (missed targets do not count)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Stand up Mosquitto, workers and databases; measure tap-to-reply latency, "
                    "maximum sustained rate, CPU and memory against an echo baseline and "
                    "the bare-driver floor, plus firmware, reports and member import. "
                    "Full runs write "
                    "bench/results/<date>.json and docs/BENCHMARKS.md; quick runs write "
                    "bench/results/<date>-quick.json only.",
        epilog="examples: python -m bench   |   python -m bench --quick   |   "
               "python -m bench --quick --only echo,sqlite-1 --skip-extras")
    parser.add_argument("--quick", action="store_true",
                        help="short mode for development (under 60 s; docs left alone)")
    parser.add_argument("--only", default="",
                        help="comma-separated configuration names (developer option)")
    parser.add_argument("--skip-extras", action="store_true",
                        help="developer option: skip firmware, reports and member import")
    parser.add_argument("--no-docs", action="store_true",
                        help="full run without rewriting docs/BENCHMARKS.md and charts")
    args = parser.parse_args(argv)

    from bench import report, run

    plan = run.QUICK if args.quick else run.FULL
    only = tuple(name for name in args.only.split(",") if name) or None
    known = {c.name for c in run.CONFIGURATIONS}
    if only and not set(only) <= known:
        parser.error(f"unknown configuration(s) {sorted(set(only) - known)}; "
                     f"known: {', '.join(sorted(known))}")
    results = run.run(plan, skip_extras=args.skip_extras, only=only)
    path = report.write_results(results)
    run.log(f"results: {path}")
    if not plan.quick and not args.no_docs:
        report.write_docs(results)
        run.log(f"updated {report.DOC_PATH} and its charts")
    for line in report.summary_lines(results):
        print(line)
    failed = run.failures(results)
    if failed:
        print("\nBENCH FAILED — these did not run:", file=sys.stderr)
        for line in failed:
            print(f"  {line}", file=sys.stderr)
        return EXIT_FAILED
    print(f"done in {results['elapsed_s']:g} s")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
