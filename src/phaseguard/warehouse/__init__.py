"""The warehouse door: the only package that talks to a database holding pipeline data.

Every command reads the warehouse through :meth:`Warehouse.measure`: ONE sqlglot-built
statement per command, rendered for the target dialect, run by a DB-API driver
(``drivers.py``: DuckDB, PostgreSQL; ``bigquery.py``; ``spark.py``).
"""

from .core import Warehouse as Warehouse
from .core import connect as connect
from .core import parse_aggregate as parse_aggregate
from .core import table_ref as table_ref
from .drivers import Driver as Driver
from .drivers import mask_url as mask_url

__all__ = ["Driver", "Warehouse", "connect", "mask_url", "parse_aggregate", "table_ref"]
