"""The fenced blocks of README.md, and a runner for its ```python blocks: all of them, in order, in one
namespace (as a reader would paste them into one session). Used by test_readme.py and install_test.sh."""

import dataclasses
import re

FENCE = re.compile(r"^```(\S*)$")


@dataclasses.dataclass
class Block:
    language: str  # the fence's info string: "python", "cpp", "sh", "text", ...
    text: str
    line: int  # README line of the block's first line of text (the line after the opening fence)
    follows: "Block | None"  # the block just before this one when only blank lines separate them


def blocks(readme_path):
    found, current, previous_end = [], None, None
    for number, line in enumerate(readme_path.read_text(encoding="utf-8").splitlines(), start=1):
        if current is None:
            match = FENCE.match(line)
            if match:
                adjacent = found[-1] if found and previous_end == number - 1 else None
                current = Block(match.group(1), "", number + 1, adjacent)
            elif line.strip() and previous_end is not None:
                previous_end = None
            elif not line.strip() and previous_end == number - 1:
                previous_end = number  # blank lines keep the next block adjacent
        elif line == "```":
            found.append(current)
            current, previous_end = None, number
        else:
            current.text += line + "\n"
    if current is not None:
        raise AssertionError(f"{readme_path}:{current.line - 1}: a ``` block is not closed")
    return found


def python_blocks(readme_path):
    return [block for block in blocks(readme_path) if block.language == "python"]


def run_readme_examples(readme_path):
    python = python_blocks(readme_path)
    namespace = {}
    for block in python:
        # Leading newlines put the block's lines at their README line numbers in tracebacks.
        code = "\n" * (block.line - 1) + block.text
        exec(compile(code, str(readme_path), "exec"), namespace)  # noqa: S102 (the README's own code)
    return len(python)
