"""The .pyi stubs of the pure-Python parts (convkit.summary, convkit.dask) say what the code does: every
public function and class of convkit.dask has a stub whose parameters (names, kinds, order, defaults)
are those of the running code, so an editor's signature help is true."""

import ast
import inspect
import pathlib

import pytest

import convkit
import convkit.dask

PACKAGE = pathlib.Path(convkit.__file__).resolve().parent


def stub_functions(path):
    """name -> ast.FunctionDef for the stub's module-level functions and its classes' __init__."""
    tree = ast.parse(path.read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    found[node.name] = item
    return found


def stub_parameters(node, drop_self):
    """[(name, kind, default)] of a stub's def, in inspect's terms."""
    args = node.args
    positional = args.posonlyargs + args.args
    defaults = [inspect.Parameter.empty] * (len(positional) - len(args.defaults)) + [
        ast.literal_eval(d) for d in args.defaults]
    result = [(a.arg, inspect.Parameter.POSITIONAL_OR_KEYWORD, d) for a, d in zip(positional, defaults)]
    result += [(a.arg, inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.empty if d is None else ast.literal_eval(d))
               for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    return result[1:] if drop_self else result


def runtime_parameters(function):
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize("module, stub", [(convkit.dask, "dask/__init__.pyi"), (convkit, "__init__.pyi")])
def test_stub_signatures_are_the_code(module, stub):
    stubs = stub_functions(PACKAGE / stub)
    public = [name for name in getattr(module, "__all__", dir(module)) if not name.startswith("_")]
    checked = 0
    for name in public:
        value = getattr(module, name)
        if not (inspect.isfunction(value) or inspect.isclass(value)) or value.__module__.startswith("convkit._convkit"):
            continue  # constants; the compiled extension's own stub is _convkit.pyi
        if inspect.isclass(value) and value.__module__ == "builtins":
            continue
        assert name in stubs, f"{module.__name__}.{name} has no stub in {stub}"
        target = value.__init__ if inspect.isclass(value) else value
        assert stub_parameters(stubs[name], inspect.isclass(value)) == runtime_parameters(target)[
            1 if inspect.isclass(value) else 0:], name
        checked += 1
    assert checked >= (12 if module is convkit.dask else 1)
