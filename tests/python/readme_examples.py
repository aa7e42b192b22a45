"""Runs the ```python blocks of README.md's "## Python" section in order, in one namespace (as a reader would
paste them into one session). Used by test_readme.py and install_test.sh."""

import re


def python_blocks(readme_path):
    text = readme_path.read_text(encoding="utf-8")
    section = text.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def run_readme_examples(readme_path):
    blocks = python_blocks(readme_path)
    namespace = {}
    for block in blocks:
        exec(compile(block, str(readme_path), "exec"), namespace)  # noqa: S102 (the README's own code)
    return len(blocks)
