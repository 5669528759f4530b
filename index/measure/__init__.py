"""Measurement, kept out of the product path: `newsbot eval` (datasets, metrics, systems,
evaluate, report), `newsbot bench` (synthetic, bench, bench_report) and `newsbot loadtest` (load).

Nothing in `index/` outside this package imports it, except the command line registering its
commands (cli.py here).
"""
