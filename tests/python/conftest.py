"""The suite imports `convkit` from PYTHONPATH (the Makefile points it at build/python) and its helpers
(oracle, cases, readme_examples) from this directory."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
