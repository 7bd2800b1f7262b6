"""What a config's SQL may contain: an ``aggregate`` expression or a ``where:`` condition.

Both are parsed with sqlglot against an allow-list (aggregates, pure scalar functions,
operators, unqualified columns, literals) and refused otherwise, at load, with the reason in
the user's words: they run with the warehouse's credentials, so a function sqlglot does not
know, a subquery or a qualified name never reaches the warehouse. A config that passed once
is remembered on disk (``sqlcache``), so loading it again does not import sqlglot.
"""

from __future__ import annotations

from collections.abc import Sequence

from phaseguard.errors import ConfigError

from .drivers import first_line
from .lazy import exp, sqlglot
from .sqlcache import load_sql, store_sql

AGGREGATE_FUNCTIONS = (
    "Avg", "Sum", "Min", "Max", "Count", "CountIf", "Stddev", "StddevPop", "StddevSamp",
    "Variance", "VariancePop", "Median", "ApproxDistinct", "LogicalAnd", "LogicalOr",
)  # fmt: skip
SCALAR_FUNCTIONS = (
    "Abs", "Round", "Coalesce", "Nullif", "Greatest", "Least", "Sqrt", "Pow", "Ln", "Log",
    "Exp", "Floor", "Ceil", "Sign", "Length", "Lower", "Upper", "Case", "If", "Cast",
    "TryCast",
)  # fmt: skip
OPERATORS = (
    "Add", "Sub", "Mul", "Div", "IntDiv", "Mod", "Neg", "Paren", "EQ", "NEQ", "GT", "GTE",
    "LT", "LTE", "And", "Or", "Not", "Is", "NullSafeEQ", "NullSafeNEQ", "In", "Between",
    "Like", "ILike",
)  # fmt: skip
TERMS = ("Column", "Identifier", "Literal", "Boolean", "Null", "Star", "DataType", "Distinct")
_ALLOWED_NAMES = (*AGGREGATE_FUNCTIONS, *SCALAR_FUNCTIONS, *OPERATORS, *TERMS)


def parse_aggregate(expr: str) -> exp.Expr:
    """Parse one aggregate SQL expression built only from the allow-list above.

    Aggregates (AVG, SUM, MIN, MAX, COUNT, ...), pure scalar functions (ABS, ROUND,
    COALESCE, CASE, ...), operators, unqualified columns and literals; at least one
    aggregate. Anything else, above all a function sqlglot does not know, is a
    ConfigError: the expression runs with the warehouse's credentials.
    """
    try:
        tree = sqlglot.parse_one(expr)
    except sqlglot.errors.ParseError as exc:
        raise ConfigError(f"cannot parse aggregate {expr!r}: {first_line(exc)}") from None
    allowed = _allowed_classes()
    for node in tree.walk():
        if type(node) not in allowed:
            raise ConfigError(f"aggregate {expr!r}: {_refusal(node)}")
        if isinstance(node, exp.Column) and node.table:
            raise ConfigError(f"aggregate {expr!r}: use unqualified column names")
        if isinstance(node, exp.Distinct) and not isinstance(node.parent, exp.Count):
            raise ConfigError(f"aggregate {expr!r}: DISTINCT only inside COUNT")
    if not any(isinstance(n, exp.AggFunc) for n in tree.walk()):
        raise ConfigError(f"aggregate {expr!r} has no aggregate function (AVG, SUM, MAX, ...)")
    return tree


def validate_aggregate(expr: str) -> None:
    """:func:`parse_aggregate` for a config being loaded, remembered on disk when it passes
    (``sqlcache``), so that loading a config does not import sqlglot every time."""
    key = f"aggregate|{'.'.join(_ALLOWED_NAMES)}|{expr}"
    if load_sql(key) == "ok":
        return
    parse_aggregate(expr)
    store_sql(key, "ok")


def _allowed_classes(names: Sequence[str] = _ALLOWED_NAMES) -> frozenset[type]:
    return frozenset(getattr(exp, name) for name in names if hasattr(exp, name))


# What a ``where:`` condition may contain: the aggregates' scalar allow-list (no aggregate,
# no ``*``, no DISTINCT), and its top node must be a condition.
CONDITION_FUNCTIONS = ("Trim", "Substring", "DPipe", "Concat")
_CONDITION_NAMES = (
    *SCALAR_FUNCTIONS, *CONDITION_FUNCTIONS, *OPERATORS, "Column", "Identifier", "Literal",
    "Boolean", "Null", "DataType", "Tuple",
)  # fmt: skip
_PREDICATES = (
    "EQ", "NEQ", "GT", "GTE", "LT", "LTE", "And", "Or", "Not", "Is", "NullSafeEQ",
    "NullSafeNEQ", "In", "Between", "Like", "ILike", "Boolean", "Column",
)  # fmt: skip


def parse_condition(cond: str) -> exp.Expr:
    """Parse one boolean SQL expression (a ``where:`` filter) built from the scalar
    allow-list: columns, literals, operators, IN/BETWEEN/LIKE/IS NULL and the pure scalar
    functions of :data:`SCALAR_FUNCTIONS`. No aggregate, no subquery, no unknown function:
    anything else is a ConfigError (the condition runs with the warehouse's credentials).
    """
    try:
        tree = sqlglot.parse_one(cond)
    except sqlglot.errors.ParseError as exc:
        raise ConfigError(f"cannot parse where {cond!r}: {first_line(exc)}") from None
    allowed = _allowed_classes(_CONDITION_NAMES)
    for node in tree.walk():
        if isinstance(node, exp.AggFunc):
            raise ConfigError(f"where {cond!r}: no aggregates in a row filter ({node.sql_name()})")
        if type(node) not in allowed:
            raise ConfigError(f"where {cond!r}: {_refusal(node, CONDITION_FUNCTIONS)}")
        if isinstance(node, exp.Column) and node.table:
            raise ConfigError(f"where {cond!r}: use unqualified column names")
    top = tree.unnest()
    if type(top) not in _allowed_classes(_PREDICATES):
        raise ConfigError(
            f"where {cond!r} is not a condition (e.g. minutes > 0, team IN ('BOS', 'LAL'))"
        )
    return tree


def validate_condition(cond: str) -> None:
    """:func:`parse_condition` for a config being loaded, remembered on disk when it passes."""
    key = f"condition|{'.'.join(_CONDITION_NAMES)}|{cond}"
    if load_sql(key) == "ok":
        return
    parse_condition(cond)
    store_sql(key, "ok")


def _refusal(node: exp.Expr, functions: Sequence[str] = AGGREGATE_FUNCTIONS) -> str:
    """Why ``node`` may not appear in an aggregate (or a condition), in the user's words."""
    if isinstance(node, exp.Anonymous):
        return (
            f"function {node.name}() is not allowed (allowed: "
            f"{', '.join(_sql_names((*functions, *SCALAR_FUNCTIONS)))}, CASE, CAST)"
        )
    if isinstance(node, exp.Dot):
        return "qualified names are not allowed"
    if isinstance(node, exp.Select | exp.Subquery | exp.Query):
        return "may not contain a query"
    if isinstance(node, exp.Func):
        return f"function {node.sql_name()} is not allowed"
    return f"{type(node).__name__} is not allowed (only columns, literals, operators and the allowed functions)"


def _sql_names(names: Sequence[str]) -> list[str]:
    out = []
    for name in names:
        cls = getattr(exp, name, None)
        if cls is not None and name not in ("Case", "If", "Cast", "TryCast", "DPipe"):
            out.append(cls.sql_names()[0])
    return out
