"""The README's Python section works as written (against the build tree's package)."""

import pathlib

import readme_examples

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_examples_run():
    assert readme_examples.run_readme_examples(README) >= 3
