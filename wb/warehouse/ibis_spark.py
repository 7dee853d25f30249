"""Ibis's PySpark backend as wb uses it (:func:`wb.warehouse.spark.spark_backend` makes it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis.expr.types as ir
from ibis.backends.pyspark import Backend as PySparkBackend
from ibis.formats.pyarrow import PyArrowData

from wb.warehouse.spark import is_spark_connect


class SparkBackend(PySparkBackend):
    """Ibis's PySpark backend with results fetched as Arrow and, on Spark Connect, tables
    cached through a view.

    Results: Ibis's ``to_pyarrow`` goes through pandas (``toPandas``, its conversions, then
    ``pa.Table.from_pandas``); Spark 4's ``toArrow`` hands the Arrow batches over as they are
    (locally and through Spark Connect). The types are then those of the expression's schema,
    as Ibis makes them.

    Caching through Spark Connect: Ibis caches ``session.sql(query).cache()`` and asserts
    ``is_cached``. Through Spark Connect 4.0 that check re-analyses the query, and a query
    with a ``WITH`` clause (Ibis writes one for a shared subquery) then gets new CTE ids and
    misses the cache: the assertion fails. Here the query becomes a temporary view and the
    view is cached (``catalog.cacheTable``): every later read resolves the same stored plan
    (the Connect builds of ``tests/warehouse/test_spark_cluster.py`` cache their groupings so).
    Dropping the view uncaches it.
    """

    def to_pyarrow(
        self,
        expr: ir.Expr,
        /,
        *,
        params: Mapping[ir.Scalar, Any] | None = None,
        limit: int | str | None = None,
        **kwargs: Any,
    ) -> Any:
        """The result of ``expr`` as an Arrow table (or array, or scalar), from ``toArrow``."""
        table_expr = expr.as_table()
        sql = self.compile(table_expr, params=params, limit=limit, **kwargs)
        with self._safe_raw_sql(sql) as query:
            arrow = query.toArrow()
        return expr.__pyarrow_result__(PyArrowData.convert_table(arrow, table_expr.schema()))

    def _create_cached_table(self, name: str, expr: ir.Table) -> ir.Table:
        if not is_spark_connect(self._session):
            return super()._create_cached_table(name, expr)
        self._session.sql(self.compile(expr)).createTempView(name)
        self._session.catalog.cacheTable(name)
        return self.table(name)

    def _drop_cached_table(self, name: str) -> None:
        if not is_spark_connect(self._session):
            return super()._drop_cached_table(name)
        self._session.catalog.dropTempView(name)
