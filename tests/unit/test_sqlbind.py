"""Named SQL parameters: :names numbered once, bound in order, every mismatch an error naming it."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.sqlbind import BindError, Named


def test_names_are_numbered_in_order_of_first_use() -> None:
    statement = Named("UPDATE t SET a = :a, b = :b WHERE id = :id AND a <> :a")
    assert statement.sql == "UPDATE t SET a = $1, b = $2 WHERE id = $3 AND a <> $1"
    assert statement.names == ("a", "b", "id")
    assert statement.args({"id": 7, "b": "x", "a": None}) == [None, "x", 7]
    assert statement.bind(id=7, b="x", a=None) == (statement.sql, None, "x", 7)


def test_casts_quotes_and_comments_are_left_as_written() -> None:
    text = """
    SELECT ':not_a' AS "col:umn", x::text, :a::uuid[], $tag$ :neither $tag$, $$ :nor $$ -- :comment
    /* :block
       :comment */ FROM t WHERE s = 'it''s :quoted' AND ts = :when::timestamptz AND arr[1:2] = '{}'
    """
    statement = Named(text)
    assert statement.names == ("a", "when")
    assert ":a" not in statement.sql and ":when" not in statement.sql
    assert "$1::uuid[]" in statement.sql and "$2::timestamptz" in statement.sql
    for kept in ("':not_a'", '"col:umn"', "x::text", "$tag$ :neither $tag$", "$$ :nor $$", "-- :comment"):
        assert kept in statement.sql
    assert "/* :block\n       :comment */" in statement.sql and "'it''s :quoted'" in statement.sql


def test_a_missing_or_extra_name_is_an_error_naming_it() -> None:
    statement = Named("INSERT INTO t (a, b, c) VALUES (:a, :b, :c)")
    with pytest.raises(BindError, match=r"INSERT INTO t \(a, b, c\).*: missing :b, :c$"):
        statement.args({"a": 1})
    with pytest.raises(BindError, match=r"missing :c; not in the statement: d, e$"):
        statement.bind({"a": 1, "b": 2, "e": 5}, d=4)
    # A None value is a value, not a missing one.
    assert statement.args(a=None, b=None, c=None) == [None, None, None]


def test_keywords_add_to_and_override_the_mapping() -> None:
    statement = Named("SELECT :a, :b")
    assert statement.args({"a": 1, "b": 2}, b=3) == [1, 3]


def test_bind_from_takes_what_the_statement_uses() -> None:
    statement = Named("UPDATE t SET a = :a WHERE id = :id")
    row = {"id": 1, "a": "x", "created_at": "ignored"}
    assert statement.bind_from(row) == (statement.sql, "x", 1)
    assert statement.bind_from(row, a="y") == (statement.sql, "y", 1)
    with pytest.raises(BindError, match="missing :id"):
        statement.bind_from({"a": "x"})


def test_positional_placeholders_are_refused_at_import() -> None:
    with pytest.raises(BindError, match=r"mixes \$2 with :names"):
        Named("SELECT * FROM t WHERE a = :a AND b = $2")


def test_a_statement_without_names_binds_nothing() -> None:
    statement = Named("SELECT now()")
    assert statement.sql == "SELECT now()" and statement.names == () and statement.bind() == ("SELECT now()",)


@given(st.lists(st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True), min_size=1, max_size=30))
def test_every_name_becomes_its_number(names: list[str]) -> None:
    statement = Named("SELECT " + ", ".join(f":{n}::text" for n in names))
    distinct = list(dict.fromkeys(names))
    assert statement.names == tuple(distinct)
    numbers = [int(n) for n in re.findall(r"\$(\d+)", statement.sql)]
    assert numbers == [distinct.index(n) + 1 for n in names]
    assert statement.args({n: n.upper() for n in names}) == [n.upper() for n in distinct]
