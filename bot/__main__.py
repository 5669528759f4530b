"""`python -m bot [-v] [--dry-run QUESTION] [--store DIR] [--db FILE]`: the same as `newsbot bot`."""

import sys

from index.cli import main

VERBOSE = ("-v", "--verbose")  # a top-level flag of `newsbot`, accepted here too
args = sys.argv[1:]
sys.exit(main([*(a for a in args if a in VERBOSE), "bot", *(a for a in args if a not in VERBOSE)]))
