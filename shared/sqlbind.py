"""SQL with :name placeholders, for statements with many parameters.

asyncpg takes $1..$n, and a list of twenty positional arguments is easy to get out of order without any error.
A statement is written with :names, turned into $n once (at import), and bound from a mapping: a name missing
from it, or one it has that the statement does not use, is an error naming them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Left as written: quoted text and names, comments, dollar-quoted bodies and casts (::type). Then the two
# kinds of placeholder: $n, refused (one statement numbers its parameters one way), and :name.
_TOKENS = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|\$(\w*)\$.*?\$\1\$|::"""
    r"""|(?P<positional>\$\d+)|:(?P<name>[A-Za-z_][A-Za-z0-9_]*)""",
    re.DOTALL,
)


class BindError(ValueError):
    """A statement and its values disagree about the names: a mistake in the code, never the caller's input."""


class Named:
    """A statement with :name placeholders. `sql` is its $n form; `names` are in the order of their numbers."""

    __slots__ = ("_label", "names", "sql")

    def __init__(self, text: str) -> None:
        self._label = " ".join(text.split())[:60]
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match["positional"]:
                raise BindError(f"{self._label}...: mixes {match['positional']} with :names; use :names only")
            name = match["name"]
            if name is None:
                return match[0]
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"

        self.sql = _TOKENS.sub(number, text)
        self.names = tuple(names)

    def __repr__(self) -> str:
        return f"Named({self._label!r}...)"

    def args(self, values: Mapping[str, Any] | None = None, /, **more: Any) -> list[Any]:
        """The values in the statement's order; every name it uses and no other."""
        given = {**(values or {}), **more}
        missing = [name for name in self.names if name not in given]
        extra = sorted(set(given).difference(self.names))
        if missing or extra:
            problems = [f"missing {', '.join(':' + n for n in missing)}"] if missing else []
            problems += [f"not in the statement: {', '.join(extra)}"] if extra else []
            raise BindError(f"{self._label}...: {'; '.join(problems)}")
        return [given[name] for name in self.names]

    def bind(self, values: Mapping[str, Any] | None = None, /, **more: Any) -> tuple[Any, ...]:
        """(sql, *args), for `conn.fetch(*statement.bind(...))`."""
        return (self.sql, *self.args(values, **more))

    def bind_from(self, source: Mapping[str, Any], /, **more: Any) -> tuple[Any, ...]:
        """Like bind, taking the names the statement uses from a larger mapping (a row, say) and `more`."""
        picked = {name: source[name] for name in self.names if name in source and name not in more}
        return self.bind(picked, **more)
