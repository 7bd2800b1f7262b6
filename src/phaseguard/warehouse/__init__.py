"""The warehouse door: the only package that talks to a database holding pipeline data.

Every command reads the warehouse through :meth:`Warehouse.measure` (``core.py``): ONE
sqlglot-built statement per command (``statement.py``), rendered for the target dialect,
run by a DB-API driver (``drivers.py``: DuckDB, PostgreSQL; ``bigquery.py``; ``spark.py``).
Checks open it read-only (``connect(read_only=True)``); only the runner's steps write.
"""

from .core import Warehouse as Warehouse
from .core import connect as connect
from .drivers import Driver as Driver
from .drivers import mask_url as mask_url
from .expressions import parse_aggregate as parse_aggregate
from .statement import table_ref as table_ref

__all__ = ["Driver", "Warehouse", "connect", "mask_url", "parse_aggregate", "table_ref"]
