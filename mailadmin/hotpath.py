"""Model rows by plain SQL, for the few statements every API send runs.

Compiling a query through the ORM cost more than a millisecond per statement here, more
than PostgreSQL took to answer it, and the send path runs three. These helpers take fixed
SQL and give back ordinary model instances, converted by the same field converters the ORM
uses (JSON, times, encrypted fields), so the rest of the code cannot tell the difference.
Tenant scoping is the caller's SQL: every use filters on tenant_id (or on the key that
decides the tenant) and is covered by the isolation tests.
"""

from functools import cache

from django.db import connection
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


def instance(model: type[Model], values) -> Model:
    """A model instance from one row's values in `columns(model)` order."""
    converted = []
    for (col, converters), value in zip(_readers(model, connection.vendor), values, strict=True):
        for converter in converters:
            value = converter(value, col, connection)
        converted.append(value)
    return model.from_db(connection.alias, [f.attname for f in _fields(model)], converted)


def fetch_row(sql: str, params: list, *models: type[Model]) -> tuple[Model, ...] | None:
    """Run `sql`, whose select list is `columns(m, …)` of each model in turn; the first row
    as one instance per model, or None."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    result, start = [], 0
    for model in models:
        width = len(_fields(model))
        result.append(instance(model, row[start : start + width]))
        start += width
    return tuple(result)


def insert(obj: Model) -> None:
    """INSERT one new row with its primary key already set (no RETURNING needed)."""
    fields = [f for f in _fields(type(obj)) if not f.generated]
    quote = connection.ops.quote_name
    names = ", ".join(quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    values = [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields]
    table = quote(obj._meta.db_table)
    # Names come from the model, every value is a parameter: no injection (S608).
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", values)  # noqa: S608
    obj._state.adding = False
    obj._state.db = connection.alias
