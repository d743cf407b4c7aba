"""The type stub (klfit/__init__.pyi) and the module agree, and everything public is documented."""

import ast
import inspect
import pathlib

import pytest

import klfit

STUB = pathlib.Path(klfit.__file__).with_name("__init__.pyi")
TREE = ast.parse(STUB.read_text(encoding="utf-8"))


def stub_classes():
    return {n.name: n for n in TREE.body if isinstance(n, ast.ClassDef)}


def stub_functions():
    return {n.name: n for n in TREE.body if isinstance(n, ast.FunctionDef)}


def members(cls: ast.ClassDef):
    return {n.name for n in cls.body if isinstance(n, ast.FunctionDef)} - {"__init__"}


def runtime_members(cls):
    return {
        name
        for name, v in vars(cls).items()
        if not name.startswith("_") and (callable(v) or inspect.isdatadescriptor(v))
    }


def test_stub_all_is_the_module_all():
    stub_all = next(
        ast.literal_eval(n.value)
        for n in TREE.body
        if isinstance(n, ast.Assign) and n.targets[0].id == "__all__"
    )
    assert sorted(stub_all) == sorted(klfit.__all__)
    assert set(stub_classes()) | set(stub_functions()) >= set(klfit.__all__)


@pytest.mark.parametrize("name", sorted(stub_classes()))
def test_stub_class_members_exist_and_nothing_is_missing(name):
    cls = getattr(klfit, name)
    stub = members(stub_classes()[name])
    assert stub <= {m for m in dir(cls) if not m.startswith("_")}, stub - set(dir(cls))
    assert runtime_members(cls) <= stub, runtime_members(cls) - stub


@pytest.mark.parametrize("name", sorted(stub_functions()))
def test_stub_function_signatures_match(name):
    f = getattr(klfit, name)
    stub = stub_functions()[name].args
    stub_names = [a.arg for a in stub.posonlyargs + stub.args + stub.kwonlyargs]
    assert list(inspect.signature(f).parameters) == stub_names


@pytest.mark.parametrize("name", sorted(klfit.__all__))
def test_everything_public_has_a_docstring(name):
    obj = getattr(klfit, name)
    assert obj.__doc__ and obj.__doc__.strip(), name
    if isinstance(obj, type):
        for m in runtime_members(obj):
            doc = getattr(obj, m).__doc__
            assert doc and doc.strip(), f"{name}.{m}"
