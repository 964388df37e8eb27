"""Core statements built once that run on PostgreSQL as SQL compiled once.

SQLAlchemy's execution machinery (compiled-cache lookup, execution context, result
metadata) cost more CPU than the hot statements themselves. A :class:`Prebuilt` statement
is compiled by SQLAlchemy once per shape (the parameters' names, the length of each list
for ``IN``) and run on the transaction's own psycopg connection, its parameters and columns
converted by the very processors SQLAlchemy would apply for their types; a driver error is
handed to SQLAlchemy's own handler (wrapped, and the connection invalidated if it is dead).
Other databases, and shapes it cannot run that way (Python-side column defaults), run
through SQLAlchemy.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from psycopg.rows import tuple_row
from sqlalchemy import Connection, Delete, Insert, Select, TextClause, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any]


class _DriverForm:
    """One shape of a statement as the driver runs it."""

    def __init__(self, compiled: SQLCompiler, dialect: Dialect, params: Mapping[str, Any]) -> None:
        state = compiled.construct_expanded_state(params)
        self.sql = state.statement
        # Where each of the statement's parameters comes from: the caller's key (and
        # position in its list, for IN), else the value bound in the statement.
        # Each converted by its type's processor, as SQLAlchemy converts it (an IN list's
        # items each by the list's).
        self.sources: list[tuple[str, str, int | None, Any]] = []
        self.processors: list[Processor | None] = []
        names = set(state.parameters)
        for name, bind in compiled.binds.items():
            key, value = bind.key, bind.value
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.expanding:
                items = params.get(key, value) or ()
                for at in range(len(items)):
                    if f"{name}_{at + 1}" in names:  # not under an anonymous bind's alias
                        self.sources.append((f"{name}_{at + 1}", key, at, value))
                        self.processors.append(process)
            elif name in names:
                self.sources.append((name, key, None, value))
                self.processors.append(process)
        self.exact = {source[0] for source in self.sources} == names
        self.row_type: Any = None
        self.converters: list[tuple[int, Processor]] = []

    def values(self, params: Mapping[str, Any]) -> dict[str, Any]:
        values = {}
        for (name, key, at, bound), processor in zip(self.sources, self.processors, strict=True):
            value = params.get(key, bound)
            if at is not None:
                value = value[at]
            values[name] = value if processor is None else processor(value)
        return values


class Prebuilt:
    """A Core statement built once; :meth:`rows` runs it on a transaction's connection."""

    def __init__(self, statement: Select[Any] | Insert | Update | Delete | TextClause) -> None:
        self.statement = statement
        self._forms: dict[tuple[Any, ...], _DriverForm | None] = {}
        self._expanding: frozenset[str] | None = None  # the keys of its IN lists
        self._columns: list[str | None] = [
            column.key for column in getattr(statement, "exported_columns", ())
        ]
        self._types = [column.type for column in getattr(statement, "exported_columns", ())]

    def rows(
        self, conn: Connection, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> list[Any]:
        """Run the statement with ``params`` (several sets of them: through SQLAlchemy, one
        multi-row statement); its rows (none for a statement without)."""
        if not isinstance(params, Mapping) and len(params) == 1:
            params = params[0]
        if isinstance(params, Mapping):
            form = self._form(conn.dialect, params)
            if form is not None:
                return self._run(conn, form, params)
        result = conn.execute(self.statement, params)
        return list(result) if result.returns_rows else []

    def _form(self, dialect: Dialect, params: Mapping[str, Any]) -> _DriverForm | None:
        if dialect.driver != "psycopg":
            return None
        if self._expanding is None:
            compiled = self.statement.compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
            binds = compiled.binds.values()
            self._expanding = frozenset(bind.key for bind in binds if bind.expanding)
        shape = (*params, *(len(params[k]) for k in self._expanding if k in params))
        try:
            return self._forms[shape]
        except KeyError:
            pass
        compiled = self.statement.compile(dialect=dialect, column_keys=list(params))
        form: _DriverForm | None = None
        assert isinstance(compiled, SQLCompiler)
        if not (compiled.insert_prefetch or compiled.update_prefetch):
            form = _DriverForm(compiled, dialect, params)
            if not form.exact:
                form = None
        self._forms[shape] = form
        return form

    def _run(self, conn: Connection, form: _DriverForm, params: Mapping[str, Any]) -> list[Any]:
        # The psycopg connection itself (the dialect is not an asyncio adaptation); unlike
        # driver_connection it is there on a connection detached from the pool too.
        driver = conn.connection.dbapi_connection
        cursor = driver.cursor(row_factory=tuple_row)  # type: ignore[union-attr]
        values: Mapping[str, Any] = params
        try:
            values = form.values(params)
            cursor.execute(form.sql, values)
            if form.row_type is None:  # the first run: its columns, if it returns any
                self._prepare_rows(conn.dialect, form, cursor.description)
            found = cursor.fetchall() if form.row_type else []
        except Exception as error:
            # SQLAlchemy's own handling: wrapped as it would be (a value a type refuses as a
            # StatementError, a driver's error as a DBAPIError), a dead connection invalidated.
            conn._handle_dbapi_exception(error, form.sql, values, cursor, None)
            raise
        finally:
            cursor.close()
        if not found:
            return []
        make, converters = form.row_type._make, form.converters
        if not converters:
            return [make(row) for row in found]
        rows = []
        for row in found:
            converted = list(row)
            for at, convert in converters:
                converted[at] = convert(converted[at])
            rows.append(make(converted))
        return rows

    def _prepare_rows(self, dialect: Dialect, form: _DriverForm, description: Any) -> None:
        """The row type (named as SQLAlchemy names the columns, else as the database does)
        and the conversions SQLAlchemy applies to the columns of these types."""
        if description is None:  # no rows (read once: psycopg builds it anew each time)
            form.row_type = False
            return
        names = [column.name for column in description]
        converters = []
        if self._columns:  # not textual SQL (untyped: its columns as they come)
            if len(names) != len(self._columns):
                raise AssertionError("a prebuilt statement's columns are not its result's")
            names = [key or name for key, name in zip(self._columns, names, strict=True)]
            for at, (type_, column) in enumerate(zip(self._types, description, strict=True)):
                process = type_.dialect_impl(dialect).result_processor(dialect, column.type_code)
                if process is not None:
                    converters.append((at, process))
        form.converters = converters  # complete before row_type says it is ready
        form.row_type = namedtuple("Row", names, rename=True)  # type: ignore[misc]
