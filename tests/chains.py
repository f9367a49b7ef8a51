"""Walking everything reachable from an exception: its cause and context chains, groups, notes."""

from __future__ import annotations

from collections.abc import Iterator


def chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception reachable from it, each once."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]
        if isinstance(current, BaseExceptionGroup):
            todo += list(current.exceptions)


def texts(exc: BaseException) -> Iterator[str]:
    """Every text a log or a debugger could show of `exc` and what it reaches."""
    for link in chain(exc):
        yield str(link)
        yield repr(link)
        yield repr(link.args)
        yield repr(vars(link))
        yield from (str(note) for note in getattr(link, "__notes__", []))
