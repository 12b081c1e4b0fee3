"""One tiny registry used for recipes, models, losses, datasets, tasks and metrics.

Names are validated on lookup, and the error lists the valid ones, so a typo on the command line
gets an answer instead of a KeyError. A name of the form ``package.module:attr`` is a plugin: it is
imported (from the working directory too, as ``python -m`` would) instead of looked up, so
``--set model.generator=mypkg.nets:MyGenerator`` trains from the command line, and the run's
config.yaml, which records the name, finds it again for ``sample``, ``eval``, ``report`` and ``--resume``.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from gankit.errors import ConfigError, GankitError

T = TypeVar("T")
IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


class Registry(Generic[T]):
    def __init__(self, kind: str, plugins: bool = False, kind_of: type | None = None):
        """``plugins``: also accept import paths; ``kind_of``: a plugin class must subclass it."""
        self.kind = kind
        self.plugins, self.kind_of = plugins, kind_of
        self._items: dict[str, T] = {}
        self._docs: dict[str, str] = {}

    def register(self, name: str, doc: str | None = None) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            self._docs[name] = doc if doc is not None else _first_line(getattr(obj, "__doc__", None))
            return obj

        return decorator

    def add(self, name: str, obj: T, doc: str | None = None) -> T:
        return self.register(name, doc)(obj)

    def get(self, name: str) -> T:
        if name in self._items:
            return self._items[name]
        if self.plugins and IMPORT_PATH.fullmatch(name):
            return import_plugin(name, self.kind, self.kind_of)
        hint = ", or an import path module:name" if self.plugins else ""
        raise ConfigError(unknown_name_message(self.kind, name, self.names()) + hint)

    def doc(self, name: str) -> str:
        return self._docs.get(name, "")

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def import_plugin(spec: str, kind: str, kind_of: type | None = None) -> Any:
    """The object ``module:attr`` names: a class (subclassing ``kind_of`` when given) or a Python function.

    Nothing is called here, and a builtin (``os:system``) is refused, so a config file cannot make
    gankit run an arbitrary callable; what the plugin builds is checked where it is used.
    """
    obj = import_object(spec, kind)
    if inspect.isclass(obj):
        if kind_of is not None and not issubclass(obj, kind_of):
            raise ConfigError(f"{kind} {spec!r} is a class but not a {kind_of.__name__}")
    elif not inspect.isfunction(obj):
        raise ConfigError(f"{kind} {spec!r} must be a class or a Python function, not {type(obj).__name__}")
    return obj


def import_object(spec: str, kind: str) -> Any:
    """Import what ``module:attr`` names (from the working directory too), with one-line errors; no checks."""
    module, _, attr = spec.partition(":")
    with _working_directory_on_path():
        try:
            obj: Any = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"cannot import {kind} {spec!r}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - the user's module raised while importing
            raise GankitError(f"importing {kind} {spec!r} failed: {type(exc).__name__}: {exc}") from None
    return obj


@contextlib.contextmanager
def _working_directory_on_path() -> Iterator[None]:
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added:
            sys.path.remove(cwd)


def unknown_name_message(kind: str, name: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {kind} {name!r}{hint}; choose from: {', '.join(valid)}"


def _first_line(doc: str | None) -> str:
    return doc.strip().splitlines()[0] if doc and doc.strip() else ""
