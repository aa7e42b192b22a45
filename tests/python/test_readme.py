"""README.md cannot drift: every fenced block in it is run or checked here, and a block of a kind this file
does not know fails test_every_block_is_run.

- ```python: run in order in one namespace against the package under test (readme_examples.py).
- ```cpp: exactly one; examples/CMakeLists.txt cuts it out of README.md into the build tree as
  readme_example, which ctest runs (test `readme_example`) and tests/install_test.sh builds against an
  install; here: the build compiled this README's block.
- ```sh: each command runs, in README order, in one scratch directory laid out like the repository root
  (`build` -> the build tree, `examples` and `bench` -> the sources, so `build/convkit` and
  `examples/models/...` mean what they mean to a reader), and must exit with status 0. The files it
  writes must exist: the values of its --output, --plot, --json, --out and --gallery options, or, when its
  comment says `writes ...`, the files named there. Skipped, and run elsewhere: `make ...` lines (`make
  demo` and `make test` are the entry points that run all of this; `make python` builds the build tree
  this test uses) and `pip install` lines (tests/python/install_test.sh, in `make test`, runs that
  install exactly).
- ```text right after an ```sh block: what that block's commands print (stdout), compared line by line.
- the one other ```text block, the repository layout: it must name every public header and every
  directory it lists must exist.
"""

import os
import pathlib
import re
import shlex
import subprocess

import pytest

import readme_examples

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BLOCKS = readme_examples.blocks(README)
LAYOUT_START = "include/<layer>/convkit/"
SKIPPED = (re.compile(r"^make "), re.compile(r"\bpip install\b"))
OUTPUT_OPTIONS = ("--output", "--plot", "--json", "--out", "--gallery")


def build_dir():
    return pathlib.Path(os.environ.get("CONVKIT_BUILD_DIR", ROOT / "build")).resolve()


def is_output(block):
    return block.language == "text" and block.follows is not None and block.follows.language == "sh"


def is_layout(block):
    return block.language == "text" and block.text.startswith(LAYOUT_START)


def where(block):
    return f"README.md:{block.line}"


def test_every_block_is_run():
    for block in BLOCKS:
        known = block.language in ("python", "cpp", "sh") or is_output(block) or is_layout(block)
        assert known, (f"{where(block)}: a ```{block.language} block that tests/python/test_readme.py "
                       "neither runs nor checks; teach it how, or use one of the kinds it knows")
    assert sum(block.language == "cpp" for block in BLOCKS) == 1, "examples/CMakeLists.txt builds one ```cpp block"
    assert sum(is_layout(block) for block in BLOCKS) == 1


def test_python_blocks_run():
    assert readme_examples.run_readme_examples(README) == sum(block.language == "python" for block in BLOCKS)


def test_cpp_block_is_the_example_the_build_compiled():
    generated = build_dir() / "examples" / "readme_example.cc"
    if not generated.is_file():
        pytest.skip(f"no {generated} (set CONVKIT_BUILD_DIR)")
    (block,) = [block for block in BLOCKS if block.language == "cpp"]
    directive, code = generated.read_text(encoding="utf-8").split("\n", 1)
    stale = f"{generated} is not {where(block)}'s block: build again (cmake --build)"
    assert directive.startswith(f"#line {block.line} ") and code == block.text, stale


def commands(block):
    """The block's commands, each with its README line (a backslash continues a command)."""
    pending, start = "", None
    for offset, line in enumerate(block.text.splitlines()):
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        start = start if pending else block.line + offset
        pending += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            yield start, pending
            pending = ""


def expected_files(command):
    words = shlex.split(command, comments=True)
    comment = command.partition(" # ")[2]
    if "writes " in comment:
        return re.findall(r"[\w./-]+\.\w+", comment.split("writes ", 1)[1])
    return [words[i + 1] for i, word in enumerate(words[:-1]) if word in OUTPUT_OPTIONS]


def test_sh_blocks_run_and_print_what_the_readme_shows(tmp_path):
    cli = build_dir() / "convkit"
    if not cli.is_file():
        pytest.skip(f"no convkit CLI at {cli} (set CONVKIT_BUILD_DIR)")
    (tmp_path / "build").symlink_to(build_dir())
    for name in ("examples", "bench"):
        (tmp_path / name).symlink_to(ROOT / name)
    ran = 0
    for index, block in enumerate(BLOCKS):
        if block.language != "sh":
            continue
        printed = ""
        for line, command in commands(block):
            if any(pattern.search(command) for pattern in SKIPPED):
                continue
            result = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True,
                                    timeout=300, check=False)
            assert result.returncode == 0, f"README.md:{line}: `{command}` exited {result.returncode}:\n{result.stderr}"
            for file in expected_files(command):
                assert (tmp_path / file).exists(), f"README.md:{line}: `{command}` did not write {file}"
            printed += result.stdout
            ran += 1
        following = BLOCKS[index + 1] if index + 1 < len(BLOCKS) else None
        if following is not None and following.follows is block and is_output(following):
            shown = [text.rstrip() for text in following.text.splitlines()]
            assert [text.rstrip() for text in printed.splitlines()] == shown, (
                f"{where(following)}: the README shows output that {where(block)}'s commands no longer print; "
                f"they print:\n{printed}")
    assert ran > 0


def test_layout_names_every_header_and_existing_directories():
    (block,) = [block for block in BLOCKS if is_layout(block)]
    named = set(re.findall(r"[\w.]+", block.text))
    for header in sorted((ROOT / "include").rglob("*.h*")):
        stem = header.name.split(".")[0]
        assert stem in named or header.name in named, f"{where(block)}: the layout does not name {header.relative_to(ROOT)}"
    for directory in re.findall(r"^[\w/]+/", block.text, flags=re.M):
        assert (ROOT / directory).is_dir(), f"{where(block)}: {directory} does not exist"
    for layer in re.findall(r"^  (\w+)/", block.text, flags=re.M):
        assert (ROOT / "include" / layer / "convkit").is_dir(), f"{where(block)}: no include/{layer}/convkit"


def test_links_resolve():
    for target in re.findall(r"\]\(([^)]+)\)", README.read_text(encoding="utf-8")):
        path, _, anchor = target.partition("#")
        linked = ROOT / path if path else README
        assert linked.exists(), f"README.md links to {path}, which does not exist"
        if anchor:
            assert anchor in anchors(linked), f"README.md links to {target}: no heading of {path or 'README.md'} gives #{anchor}"


def anchors(markdown):
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    titles = re.findall(r"^#+ (.+)$", re.sub(r"^```.*?^```$", "", markdown.read_text(encoding="utf-8"), flags=re.M | re.S), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-") for title in titles}
