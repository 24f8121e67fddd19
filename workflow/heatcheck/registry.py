"""Name -> class registries: one spelling everywhere (config key, wildcard, file stem)."""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

from . import HeatcheckError

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from lowercase names to classes, filled by the ``register`` decorator.

    Parameters
    ----------
    what : str
        What the registry holds ("dataset kind", "model", ...), used in error messages.
    """

    def __init__(self, what: str):
        self.what = what
        self._items: dict[str, type[T]] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        def deco(cls: type[T]) -> type[T]:
            if name in self._items:
                raise ValueError(f"{self.what} {name!r} registered twice")
            cls.name = name
            self._items[name] = cls
            return cls

        return deco

    def get(self, name: str) -> type[T]:
        try:
            return self._items[name]
        except KeyError:
            raise HeatcheckError(
                f"unknown {self.what} {name!r}; valid choices: {', '.join(sorted(self._items))}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items
