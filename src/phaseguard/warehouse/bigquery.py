"""The BigQuery driver behind the warehouse door, through the official ``google-cloud-bigquery``.

URL: ``bigquery://PROJECT[/DATASET][?location=US&endpoint=http://127.0.0.1:9050&timeout=60]``.
A config's ``schema.table`` is ``dataset.table`` in PROJECT; DATASET, when given, is the
default for unqualified names. ``endpoint`` points the client at an emulator with anonymous
credentials; without it the client uses application-default credentials.

Only :mod:`phaseguard.warehouse` opens this module (lazily: the client library is the
``phaseguard[bigquery]`` extra), and it translates every error listed by
:func:`driver_errors` into a ``WarehouseError``.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlglot import exp

DIALECT = "bigquery"
# BigQuery allows 10,000 query parameters per statement; stay well below it.
MAX_PARAMS = 9000
# The REST API answers with legacy type names; the catalogue speaks standard SQL.
STANDARD_TYPES = {
    "INTEGER": "INT64",
    "FLOAT": "FLOAT64",
    "BOOLEAN": "BOOL",
    "RECORD": "STRUCT",
}
# Date column types a DATE parameter cannot be compared with as it is: BigQuery coerces
# no DATE to TIMESTAMP (``TIMESTAMP >= DATE`` has no matching signature). It would coerce
# DATE to DATETIME; the explicit cast keeps both bounds in the column's type all the same.
CAST_BOUNDS = frozenset({"TIMESTAMP", "DATETIME"})


def _parse_one(sql: str) -> exp.Expr | None:
    import sqlglot

    try:
        statements = sqlglot.parse(sql, read=DIALECT)
    except sqlglot.errors.ParseError:
        return None
    return statements[0] if len(statements) == 1 else None


def driver_errors() -> tuple[type[BaseException], ...]:
    """Every error the client raises for a failed call: API, auth and transport errors."""
    import requests
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError

    return (GoogleAPIError, GoogleAuthError, requests.RequestException)


class BigQueryDriver:
    """A BigQuery project (or a local emulator speaking its REST API)."""

    dialect = DIALECT

    def __init__(
        self,
        project: str,
        *,
        dataset: str | None = None,
        location: str | None = None,
        endpoint: str | None = None,
        timeout: float = 120.0,
        read_only: bool = False,
    ) -> None:
        from google.cloud import bigquery
        from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY

        self._bq = bigquery
        # Read-only: every statement is dry-run first and runs only if BigQuery says it is
        # a SELECT (the verdict is kept per statement text: the dates are parameters).
        self.read_only = read_only
        self._selects: set[str] = set()
        self.project = project
        self.dataset = dataset
        self.timeout = timeout
        options: dict[str, Any] = {}
        if endpoint:
            from google.api_core.client_options import ClientOptions
            from google.auth.credentials import AnonymousCredentials

            options = {
                "credentials": AnonymousCredentials(),  # type: ignore[no-untyped-call]
                "client_options": ClientOptions(api_endpoint=endpoint),
            }
        self.client = bigquery.Client(project=project, location=location, **options)
        # The client's default retries keep trying for 10 minutes; phaseguard has its own
        # retry policy one level up, so a down endpoint or a failing job must fail within
        # the timeout.
        self._retry = bigquery.DEFAULT_RETRY.with_deadline(timeout)
        self._job_retry = DEFAULT_JOB_RETRY.with_deadline(timeout)
        self._partitioning: dict[str, str | None] = {}
        self._schemas: dict[str, dict[str, str]] = {}

    @classmethod
    def from_url(cls, url: str, *, read_only: bool = False) -> BigQueryDriver:
        """Open ``bigquery://PROJECT[/DATASET][?location=..&endpoint=..&timeout=..]``."""
        parts = urlsplit(url)
        if not parts.netloc:
            raise ValueError(f"no project in {url!r}: expected bigquery://PROJECT[/DATASET]")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"location", "endpoint", "timeout"}
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))} in {url!r}")
        return cls(
            parts.netloc,
            dataset=parts.path.strip("/") or None,
            location=query.get("location"),
            endpoint=query.get("endpoint"),
            timeout=float(query.get("timeout", 120)),
            read_only=read_only,
        )

    # --- Driver ---------------------------------------------------------------------------
    def execute(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement as a query job and return its rows."""
        if self.read_only:
            self._require_select(sql, params or {})
        job = self.client.query(
            sql,
            job_config=self._job_config(params or {}),
            retry=self._retry,
            job_retry=self._job_retry,
            timeout=self.timeout,
        )
        rows = job.result(retry=self._retry, timeout=self.timeout)
        if job.error_result:  # emulators may report a failure on a finished job
            from google.api_core.exceptions import BadRequest

            message = str(job.error_result.get("message", job.error_result))
            raise BadRequest(message)  # type: ignore[no-untyped-call]
        return [tuple(row.values()) for row in rows]

    def _require_select(self, sql: str, params: dict[str, Any]) -> None:
        """Refuse ``sql`` unless a dry run says its statementType is SELECT."""
        if sql in self._selects:
            return
        config = self._job_config(params)
        config.dry_run = True
        config.use_query_cache = False
        job = self.client.query(sql, job_config=config, retry=self._retry, timeout=self.timeout)
        kind = job.statement_type
        if kind is None:  # an emulator may not say: fall back to the statement's own form
            kind = "SELECT" if isinstance(_parse_one(sql), exp.Query) else "not a query"
        if kind != "SELECT":
            from phaseguard.errors import WarehouseError

            raise WarehouseError(
                f"refused a {kind} statement on a read-only BigQuery connection "
                "(only a SELECT runs)",
                sql=sql,
            )
        self._selects.add(sql)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run ``sql`` once per row; it names its parameters ``@p0``, ``@p1``, ..."""
        for row in rows:
            self.execute(sql, {f"p{i}": value for i, value in enumerate(row)})

    def transaction(self, statements: Sequence[tuple[str, Any]]) -> None:
        """Run statements in order. Each BigQuery statement is atomic on its own; the
        multi-statement writes phaseguard needs go through :meth:`replace_partition`, which
        is a single MERGE."""
        for sql, params in statements:
            if isinstance(params, list):
                self.executemany(sql, params)
            else:
                self.execute(sql, params)

    def close(self) -> None:
        """Close the client's HTTP session."""
        self.client.close()  # type: ignore[no-untyped-call]

    # --- bulk writes ----------------------------------------------------------------------
    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Append ``rows`` with multi-row INSERT statements (DML, so no streaming buffer that
        would block a later DELETE), parameters typed from the table's schema."""
        for chunk in _chunks(rows, max(1, MAX_PARAMS // max(1, len(columns)))):
            select, params = self._rows_select(table, columns, chunk)
            insert = exp.insert(select, _table(table), columns=list(columns))
            self.execute(insert.sql(dialect=DIALECT, identify=True), params)

    def replace_partition(
        self,
        table: str,
        date_column: str,
        date: dt.date,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
    ) -> None:
        """Replace the rows of ``date`` in one MERGE: the delete and the insert are one
        atomic statement. Partitions larger than the parameter limit insert their
        remaining rows in further statements."""
        target = _table(table).sql(dialect=DIALECT, identify=True)
        column = exp.to_identifier(date_column, quoted=True).sql(dialect=DIALECT)
        size = max(1, MAX_PARAMS // max(1, len(columns)))
        if not rows:
            self.execute(f"DELETE FROM {target} WHERE {column} = @d", {"d": date})
            return
        select, params = self._rows_select(table, columns, rows[:size])
        names = [exp.to_identifier(c, quoted=True).sql(dialect=DIALECT) for c in columns]
        merge = (
            f"MERGE {target} AS `t` USING ({select.sql(dialect=DIALECT, identify=True)}) AS `s` "
            f"ON FALSE WHEN NOT MATCHED BY SOURCE AND `t`.{column} = @d THEN DELETE "
            f"WHEN NOT MATCHED THEN INSERT ({', '.join(names)}) "
            f"VALUES ({', '.join(f'`s`.{n}' for n in names)})"
        )
        self.execute(merge, {**params, "d": date})
        if len(rows) > size:
            self.insert_rows(table, columns, rows[size:])

    def _rows_select(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> tuple[exp.Query, dict[str, Any]]:
        """``SELECT @r0_0 AS c0, ... UNION ALL SELECT ...`` and its typed parameters."""
        types = self._schema(table)
        params: dict[str, Any] = {}
        selects: list[exp.Select] = []
        for i, row in enumerate(rows):
            values: list[exp.Expr] = []
            for j, (name, value) in enumerate(zip(columns, row, strict=True)):
                key = f"r{i}_{j}"
                params[key] = self._param(key, value, types.get(name.lower()))
                values.append(exp.alias_(exp.Placeholder(this=key), name))
            selects.append(exp.select(*values))
        query: exp.Query = selects[0]
        for select in selects[1:]:
            query = exp.union(query, select, distinct=False)
        return query, params

    # --- catalogue ------------------------------------------------------------------------
    def describe(self, tables: Iterable[str]) -> dict[str, dict[str, str]]:
        """{dataset.table: {column: TYPE}} for each of ``tables`` that exists (API, no query)."""
        out: dict[str, dict[str, str]] = {}
        for table in {t.lower() for t in tables}:
            columns = self._schema(table, missing_ok=True)
            if columns:
                out[table] = columns
        return out

    def schemas(self) -> list[str]:
        """Every dataset of the project, lower-cased."""
        return sorted(d.dataset_id.lower() for d in self.client.list_datasets(retry=self._retry))

    def tables_in_schemas(self, schemas: Iterable[str]) -> dict[str, dict[str, str]]:
        """Every table of the datasets ``schemas``: {dataset.table: {column: TYPE}}."""
        from google.api_core.exceptions import NotFound

        names: list[str] = []
        for schema in sorted({s.lower() for s in schemas}):
            try:
                listed = list(self.client.list_tables(schema, retry=self._retry))
            except NotFound:
                continue
            names += [f"{schema}.{t.table_id}".lower() for t in listed]
        return self.describe(names)

    def prefetch(self, tables: Iterable[str]) -> None:
        """Read the metadata of ``tables`` not read yet, concurrently: a cold verify asks for
        every table a plan scans, and one ``get_table`` after another is a round trip each."""
        missing = sorted({t.lower() for t in tables} - set(self._schemas))
        if len(missing) < 2:
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(8, len(missing))) as pool:
            # The first error (down, forbidden) is raised here as it would be one by one.
            list(pool.map(lambda table: self._schema(table, missing_ok=True), missing))

    def _schema(self, table: str, *, missing_ok: bool = False) -> dict[str, str]:
        from google.api_core.exceptions import NotFound

        key = table.lower()
        if key not in self._schemas:
            try:
                found = self.client.get_table(self._ref(table), retry=self._retry)
            except NotFound:
                if missing_ok:
                    return {}
                raise
            self._schemas[key] = {
                f.name.lower(): STANDARD_TYPES.get(f.field_type, f.field_type) for f in found.schema
            }
            part = found.time_partitioning
            by_day = part is not None and part.field and part.type_ == "DAY"
            self._partitioning[key] = part.field.lower() if by_day else None
        return self._schemas[key]

    # --- scans ----------------------------------------------------------------------------
    def partitioning(self, table: str) -> str | None:
        """The column ``table`` is partitioned on by day, else None (also when it is missing)."""
        if not self._schema(table, missing_ok=True):
            return None
        return self._partitioning.get(table.lower())

    def date_bound_type(self, table: str, column: str) -> str | None:
        """TIMESTAMP or DATETIME when ``column`` of ``table`` is one, else None: the type
        the bound dates are cast to, read from the table metadata ``partitioning`` uses."""
        found = self._schema(table, missing_ok=True).get(column.lower())
        return found if found in CAST_BOUNDS else None

    def bytes_scanned(self, sql: str, params: dict[str, Any]) -> int:
        """What running ``sql`` would scan, from a dry run (nothing runs, nothing is billed)."""
        config = self._job_config(params)
        config.dry_run = True
        config.use_query_cache = False
        job = self.client.query(sql, job_config=config, retry=self._retry, timeout=self.timeout)
        return int(job.total_bytes_processed or 0)

    # --- parameters -----------------------------------------------------------------------
    def _job_config(self, params: dict[str, Any]) -> Any:
        config = self._bq.QueryJobConfig(
            query_parameters=[
                v if isinstance(v, self._bq.ScalarQueryParameter) else self._param(k, v)
                for k, v in params.items()
            ]
        )
        if self.dataset:
            config.default_dataset = f"{self.project}.{self.dataset}"
        return config

    def _param(self, name: str, value: Any, bq_type: str | None = None) -> Any:
        return self._bq.ScalarQueryParameter(name, bq_type or _type_of(value), value)

    def _ref(self, table: str) -> str:
        parts = table.split(".")
        if len(parts) == 1 and self.dataset:
            parts = [self.dataset, *parts]
        return ".".join([self.project, *parts] if len(parts) == 2 else parts)


def _type_of(value: Any) -> str:
    """The BigQuery type of a Python value (bool before int: a bool is an int)."""
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, decimal.Decimal):
        return "NUMERIC"
    if isinstance(value, dt.datetime):
        return "TIMESTAMP" if value.tzinfo else "DATETIME"
    if isinstance(value, dt.date):
        return "DATE"
    if isinstance(value, dt.time):
        return "TIME"
    if isinstance(value, bytes):
        return "BYTES"
    return "STRING"


def _table(name: str) -> exp.Table:
    return exp.to_table(name, dialect=DIALECT)


def _chunks(rows: Sequence[Sequence[Any]], size: int) -> Iterable[Sequence[Sequence[Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
