"""Benchmarks: each ``bench_*.py`` prints its figures and the ratio to a baseline run alongside."""
