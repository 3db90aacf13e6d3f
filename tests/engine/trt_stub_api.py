"""NVIDIA's published TensorRT Python API (``tensorrt-stubs`` 10.13) as data for the tests.

``make venv`` installs the stubs under ``.venv/nvidia-api/tensorrt-stubs`` (not on
``sys.path``: the ``tensorrt`` stub folder would import as an empty namespace package).
:func:`stub_api` parses them with :mod:`ast` into classes, their methods' positional
arity (overloads merged, base classes followed), attributes and enum members.
:func:`conforms` checks a hand-written fake against that, so a fake cannot offer a
method or arity the real binding does not have.
"""

from __future__ import annotations

import ast
import functools
import inspect
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

STUBS = Path(sys.prefix) / "nvidia-api" / "tensorrt-stubs"


@dataclass
class StubClass:
    name: str
    bases: list[str]
    methods: dict[str, set[tuple[int, Optional[int]]]] = field(default_factory=dict)
    attributes: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)  # enum members (``X: ClassVar[Enum]``)


@dataclass
class StubApi:
    classes: dict[str, StubClass]
    functions: set[str]

    def lookup(self, cls: str, name: str, kind: str):
        """Search ``cls`` and its stub bases for a method / attribute / member called ``name``."""
        seen, todo = set(), [cls]
        while todo:
            current = self.classes.get(todo.pop())
            if current is None or current.name in seen:
                continue
            seen.add(current.name)
            found = getattr(current, kind)
            if name in found:
                return found[name] if kind == "methods" else True
            todo.extend(current.bases)
        return None


def _arity(fn: ast.FunctionDef) -> tuple[int, Optional[int]]:
    args = fn.args
    positional = [a.arg for a in args.posonlyargs + args.args]
    is_static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)
    if positional and not is_static and positional[0] in ("self", "cls"):
        positional = positional[1:]
    required = len(positional) - len(args.defaults)
    return required, (None if args.vararg else len(positional))


def _parse_lenient(text: str) -> ast.Module:
    """ast.parse, turning the few signatures the generated stubs get wrong (a parameter without
    a default after one with a default) into ``(self, *args, **kwargs)``: their arity stays open."""
    lines = text.splitlines()
    for _ in range(100):
        try:
            return ast.parse("\n".join(lines))
        except SyntaxError as exc:
            line = lines[exc.lineno - 1]
            indent, _, rest = line.partition("def ")
            if not rest:
                raise
            tail = rest[rest.rindex(")") + 1:]  # "-> IScaleLayer:" (the body follows on the next lines)
            lines[exc.lineno - 1] = f"{indent}def {rest.split('(')[0]}(self, *args, **kwargs){tail}"
    raise SyntaxError("too many malformed signatures in the stubs")


def _parse(path: Path, api: StubApi) -> None:
    tree = _parse_lenient(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            api.functions.add(node.name)
        if not isinstance(node, ast.ClassDef):
            continue
        cls = StubClass(node.name, [b.id if isinstance(b, ast.Name) else b.attr for b in node.bases
                                    if isinstance(b, (ast.Name, ast.Attribute))])
        for item in node.body:
            if isinstance(item, ast.FunctionDef):
                decorators = {d.id if isinstance(d, ast.Name) else getattr(d, "attr", "") for d in item.decorator_list}
                if "property" in decorators or "setter" in decorators:
                    cls.attributes.add(item.name)
                else:
                    cls.methods.setdefault(item.name, set()).add(_arity(item))
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                if "ClassVar" in ast.unparse(item.annotation):
                    cls.members.add(item.target.id)
                else:
                    cls.attributes.add(item.target.id)
        api.classes[cls.name] = cls


@functools.lru_cache(maxsize=1)
def stub_api() -> Optional[StubApi]:
    """The parsed stubs, or None when they are not installed."""
    root = STUBS / "tensorrt_bindings"
    if not root.is_dir():
        return None
    api = StubApi({}, set())
    for path in (root / "tensorrt.pyi", root / "__init__.pyi"):
        _parse(path, api)
    return api


def require_stub_api() -> StubApi:
    """The stubs; skip the test without them (fail under CI, where ``make venv`` installs them)."""
    import pytest

    api = stub_api()
    if api is None:
        message = f"{STUBS} is missing: `make venv` installs tensorrt-stubs there"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return api


def _fake_arity(fn) -> tuple[int, Optional[int]]:
    params = list(inspect.signature(fn).parameters.values())
    if params and params[0].name in ("self", "cls"):
        params = params[1:]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return sum(p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD for p in params), None
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return sum(p.default is p.empty for p in positional), len(positional)


def _within(fake: tuple[int, Optional[int]], allowed) -> bool:
    """True if every positional count the fake accepts, the stub accepts too."""
    lo, hi = fake
    return any(lo >= s_lo and (s_hi is None or (hi is not None and hi <= s_hi)) for s_lo, s_hi in allowed)


def enum_problems(fake_enum, stub_class: str, api: StubApi) -> list[str]:
    """Members of a fake enum (an Enum or a namespace) that NVIDIA's enum ``stub_class`` lacks."""
    names = fake_enum.__members__ if hasattr(fake_enum, "__members__") else vars(fake_enum)
    missing = [n for n in names if not n.startswith("_") and not api.lookup(stub_class, n, "members")]
    return [f"{stub_class}.{n} is not a TensorRT enum member" for n in missing]


def conformance_problems(fake: type, stub_class: str, api: StubApi, attributes=()) -> list[str]:
    """What ``fake`` offers that NVIDIA's ``stub_class`` does not (empty: it conforms).

    Every public method of the fake must exist on the stub class (or a stub base) with an
    arity the stub allows; every name in ``attributes`` (what the fake lets code set or read)
    must be a stub attribute or property.
    """
    if stub_class not in api.classes:
        return [f"{stub_class} is not in tensorrt-stubs"]
    problems = []
    for name, member in vars(fake).items():
        if (name.startswith("_") and name != "__init__") or not callable(member) or isinstance(member, type):
            continue
        fn = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
        allowed = api.lookup(stub_class, name, "methods")
        if allowed is None and name == "__init__":
            continue  # not constructible from Python in TensorRT (an engine, a context): the fake's own business
        if allowed is None:
            problems.append(f"{stub_class}.{name} does not exist in TensorRT")
        elif not _within(_fake_arity(fn), allowed):
            problems.append(f"{stub_class}.{name} takes {sorted(allowed, key=str)} positional arguments, the fake "
                            f"{_fake_arity(fn)}")
    for name in attributes:
        if not api.lookup(stub_class, name, "attributes"):
            problems.append(f"{stub_class}.{name} is not a TensorRT attribute")
    return problems


def conforms(stub_class: str, attributes=()):
    """Class decorator for fakes: raise at definition if the fake strays from the stubs (no-op without them)."""

    def check(fake: type) -> type:
        api = stub_api()
        if api is not None:
            problems = conformance_problems(fake, stub_class, api, attributes)
            if problems:
                raise TypeError(f"fake {fake.__name__} is not TensorRT's {stub_class}: " + "; ".join(problems))
        fake.stub_class = stub_class
        return fake

    return check
