"""A fixed-size block of text that repaints only when its text or styles change."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


class TextPanel(Static):
    """A :class:`~textual.widgets.Static` for numbers redrawn on a timer.

    :meth:`set` skips the repaint when nothing changed and never asks for a relayout, so a
    panel whose figures stay the same costs nothing on the wire.
    """

    def __init__(
        self,
        content: str | Content = "",
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(content, markup=False, id=id, classes=classes)
        self._key: tuple[object, ...] | None = None

    def set(self, content: str | Content, *, layout: bool = False) -> None:
        """Show ``content`` if it differs from what is shown.

        Args:
            content: Plain text or styled :class:`~textual.content.Content`.
            layout: Relayout too, for a panel whose size follows its text.
        """
        key = (content,) if isinstance(content, str) else (content.plain, *content.spans)
        if key != self._key:
            self._key = key
            self.update(content, layout=layout)
