"""`make bench`: the loyalty transaction path measured side by side with an echo baseline
(docs/BENCHMARKS.md). Run as `python -m bench` (`--quick` for the short mode)."""
