"""Model rows by plain SQL, for the few statements every API send runs.

Compiling a query through the ORM cost more than a millisecond per statement here, more
than PostgreSQL took to answer it, and the send path runs three. These helpers take fixed
SQL and give back ordinary model instances, converted by the same field converters the ORM
uses (JSON, times, encrypted fields), so the rest of the code cannot tell the difference.
Tenant scoping is the caller's SQL: every use filters on tenant_id (or on the key that
decides the tenant) and is covered by the isolation tests.
"""

from functools import cache

from django.db import connection, connections, transaction
from django.db.models import Model


@cache
def _fields(model: type[Model]) -> tuple:
    return tuple(model._meta.concrete_fields)


def columns(model: type[Model], alias: str) -> str:
    """The select list for every concrete column of `model` in table `alias`."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(f.column)}" for f in _fields(model))


@cache
def _readers(model: type[Model], vendor: str) -> tuple:
    """(column, its converters) per concrete field, as the ORM's compiler would apply them."""
    del vendor  # part of the cache key: each backend has converters of its own
    readers = []
    for field in _fields(model):
        col = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
        readers.append((col, converters))
    return tuple(readers)


def _real(proxy):
    """The connection behind django.db.connection, whose every attribute access otherwise
    goes through a thread-local lookup (a few per field and row add up)."""
    return connections[proxy.alias]


def instance(model: type[Model], values) -> Model:
    """A model instance from one row's values in `columns(model)` order."""
    db = _real(connection)
    converted = []
    for (col, converters), value in zip(_readers(model, db.vendor), values, strict=True):
        for converter in converters:
            value = converter(value, col, db)
        converted.append(value)
    return model.from_db(db.alias, [f.attname for f in _fields(model)], converted)


def _cursor():
    """A cursor for fixed statements: prepared once per connection where the backend can."""
    db = _real(connection)
    statement_cursor = getattr(db, "statement_cursor", None)
    return statement_cursor() if statement_cursor else db.cursor()


def fetch_row(sql: str, params: list, *models: type[Model]) -> tuple[Model, ...] | None:
    """Run `sql`, whose select list is `columns(m, …)` of each model in turn; the first row
    as one instance per model, or None. A model whose columns are all NULL (a LEFT JOIN that
    matched nothing) comes back as None."""
    with _cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    result, start = [], 0
    for model in models:
        width = len(_fields(model))
        values = row[start : start + width]
        matched = any(value is not None for value in values)
        result.append(instance(model, values) if matched else None)
        start += width
    return tuple(result)


def insert(obj: Model) -> None:
    """INSERT one new row with its primary key already set (no RETURNING needed)."""
    insert_many([obj])


def insert_many(objs: list[Model]) -> None:
    """INSERT new rows of one model, primary keys already set: one short statement run for
    each row (executemany), which both drivers take fast, rather than one statement with a
    placeholder per value, which psycopg parses anew every time."""
    if not objs:
        return
    model = type(objs[0])
    db = _real(connection)
    fields = [f for f in _fields(model) if not f.generated]
    quote = db.ops.quote_name
    names = ", ".join(quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    rows = [[f.get_db_prep_save(f.pre_save(obj, add=True), db) for f in fields] for obj in objs]
    table = quote(model._meta.db_table)
    # Names come from the model, every value is a parameter: no injection (S608).
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
    if len(rows) == 1:
        with _cursor() as cursor:
            cursor.execute(sql, rows[0])
    else:
        # All rows or none; and psycopg's executemany (a pipeline) leaves the connection
        # unusable after an error outside a transaction, but not inside one.
        with transaction.atomic(), _cursor() as cursor:
            cursor.executemany(sql, rows)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
