"""The tick store's per-trade append, in C (_columns.c): records' attributes onto column lists."""

from collections.abc import Callable

class Appender:
    """``append(record)`` appends ``getattr(record, name)`` for each name to its list of
    :attr:`columns` and calls ``full()`` once they hold ``rows`` items or more."""

    def __init__(
        self, cls: type, names: tuple[str, ...], rows: int, full: Callable[[], object]
    ) -> None: ...
    @property
    def columns(self) -> tuple[list[object], ...]:
        """The lists, one per name, in order."""
    def append(self, record: object, /) -> None:
        """Append one record's attributes."""
    def take(self) -> tuple[list[object], ...]:
        """The lists, replaced by new empty ones."""
