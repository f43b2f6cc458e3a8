"""SQL over a copy of the raw archive on this machine: DuckDB reading the layout Athena reads.

    python -m tools.operations.query (--sql 'SELECT ...' | --file query.sql) [--archive reports/local-archive]
                                     [--template reports/local-archive.template.json]

The archive is a folder with the bucket's keys as paths, as `make local` leaves it (or as ``aws s3 sync`` of a real
bucket would). The table is the Glue table of the archive stack's synthesized template: its columns, its partition
keys and their types, its location and compression, so a change to the table definition changes what this reads.
Rows follow the table's SerDe (``ignore.malformed.json``): one row per line, a line that is not JSON a row of
nulls beside its partition values. The SQL is Athena's: sqlglot translates it to DuckDB's dialect, and a table
named as the Glue table, in any database or none (``iot_prod_archive.readings``, ``readings``), is this archive's.

Exit codes: 0 the query ran; 1 the query failed (translation or execution); 2 bad input (arguments, files).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from tools.common.local_archive import LOCAL_ARCHIVE, template_beside

JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
# Glue (Hive) column types and the DuckDB types that read them.
DUCKDB_TYPES = {
    "string": "VARCHAR",
    "double": "DOUBLE",
    "float": "FLOAT",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}
COMPRESSIONS = ("gzip", "none")
_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")


class QueryInputError(ValueError):
    """An input the tool cannot use: the message names which and why (exit code 2)."""


@dataclass(frozen=True, kw_only=True)
class GlueTable:
    database: str
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type)
    partition_keys: tuple[tuple[str, str], ...]
    prefix: str  # the table's location inside its bucket, e.g. readings/
    compression: str

    @classmethod
    def from_template(cls, template: Mapping[str, Any]) -> GlueTable:
        """The one AWS::Glue::Table of a synthesized template."""
        tables = [r for r in template.get("Resources", {}).values() if r.get("Type") == "AWS::Glue::Table"]
        if len(tables) != 1:
            raise QueryInputError(f"the template has {len(tables)} Glue tables; one archive stack's template has one")
        table = tables[0]["Properties"]
        descriptor = table["TableInput"]["StorageDescriptor"]
        serde = descriptor.get("SerdeInfo", {}).get("SerializationLibrary")
        if serde != JSON_SERDE:
            raise QueryInputError(f"the Glue table's SerDe is {serde}; this tool reads {JSON_SERDE} tables")
        return cls(
            database=_literal(table["DatabaseName"], "DatabaseName"),
            name=_literal(table["TableInput"]["Name"], "TableInput.Name"),
            columns=tuple((c["Name"], duckdb_type(c["Type"])) for c in descriptor["Columns"]),
            partition_keys=tuple((c["Name"], duckdb_type(c["Type"])) for c in table["TableInput"]["PartitionKeys"]),
            prefix=_prefix_in_bucket(descriptor["Location"]),
            compression=_compression(table["TableInput"].get("Parameters", {}).get("compressionType", "none")),
        )

    def view(self, archive: Path) -> str:
        """A DuckDB view of the table over the copy at ``archive``: one row per line of every object."""
        files = (archive / self.prefix).as_posix().rstrip("/") + "/*" * (len(self.partition_keys) + 1)
        hive_types = ", ".join(f"'{name}': {kind}" for name, kind in self.partition_keys)
        values = ", ".join(_column_from_json(name, kind) for name, kind in self.columns)
        partitions = ", ".join(_quoted(name) for name, _ in self.partition_keys)
        # Each line whole (no delimiter, quote or escape can split it), parsed as JSON where it is JSON.
        lines = (
            f"read_csv({_string(files)}, columns={{'line': 'VARCHAR'}}, header=false, delim=chr(0), quote='', "
            f"escape='', auto_detect=false, compression={_string(self.compression)}, hive_partitioning=true, "
            f"hive_types={{{hive_types}}})"
        )
        # Every name comes from the synthesized template, and each is quoted.
        view = f"{_quoted(self.database)}.{_quoted(self.name)}"
        return (
            f"CREATE VIEW {view} AS SELECT {values}, {partitions} "  # noqa: S608
            f"FROM (SELECT CASE WHEN json_valid(line) THEN line END AS document, * FROM {lines})"
        )


def duckdb_type(glue_type: str) -> str:
    """The DuckDB type for a Glue column type; an unknown one is refused by name."""
    if decimal := _DECIMAL.fullmatch(glue_type):
        return f"DECIMAL({decimal[1]}, {decimal[2]})"
    if glue_type not in DUCKDB_TYPES:
        raise QueryInputError(f"the Glue column type {glue_type!r} has no DuckDB counterpart here")
    return DUCKDB_TYPES[glue_type]


def translated(sql: str, table: GlueTable) -> str:
    """Athena's SQL in DuckDB's dialect, every reference to the Glue table pointed at this archive's view."""
    statements = [statement for statement in sqlglot.parse(sql, read="athena") if statement is not None]
    if len(statements) != 1:
        raise sqlglot.errors.ParseError(f"expected one SQL statement, got {len(statements)}")
    (statement,) = statements
    for reference in statement.find_all(exp.Table):
        if reference.name == table.name:
            reference.set("db", exp.to_identifier(table.database))
            reference.set("catalog", None)
    return statement.sql(dialect="duckdb")


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def run_query(sql: str, *, archive: Path, table: GlueTable) -> Result:
    """``sql`` (Athena's dialect) over the copy at ``archive``."""
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")  # Athena's session time zone
    connection.execute(f"CREATE SCHEMA {_quoted(table.database)}")
    connection.execute(table.view(archive))
    cursor = connection.execute(translated(sql, table))
    return Result([column[0] for column in cursor.description or []], cursor.fetchall())


def render(result: Result) -> str:
    """Aligned columns, a header and a row count."""
    cells = [result.columns, *([("NULL" if value is None else str(value)) for value in row] for row in result.rows)]
    widths = [max(len(row[index]) for row in cells) for index in range(len(result.columns))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join([lines[0], "  ".join("-" * width for width in widths), *lines[1:], f"({len(result.rows)} rows)"])


def _column_from_json(name: str, kind: str) -> str:
    path = f"'$.\"{name}\"'"
    value = f"json_extract_string(document, {path})"
    return f"{value} AS {_quoted(name)}" if kind == "VARCHAR" else f"TRY_CAST({value} AS {kind}) AS {_quoted(name)}"


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _compression(glue_compression: str) -> str:
    if glue_compression.lower() not in COMPRESSIONS:
        raise QueryInputError(f"the Glue table's compressionType {glue_compression!r} is not one of {COMPRESSIONS}")
    return glue_compression.lower()


def _literal(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise QueryInputError(f"the Glue table's {field} is {json.dumps(value)}, not a name the template states")
    return value


def _prefix_in_bucket(location: Any) -> str:
    """``readings/`` of ``s3://<bucket>/readings/``, the bucket being a reference the template resolves at deploy."""
    parts = location["Fn::Join"][1] if isinstance(location, dict) and "Fn::Join" in location else [location]
    tail = parts[-1]
    if not isinstance(tail, str) or not tail.startswith("/"):
        raise QueryInputError(f"cannot read the table's location in its bucket from {json.dumps(location)}")
    return tail.lstrip("/")


def _read_template(path: Path) -> Mapping[str, Any]:
    try:
        template: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QueryInputError(f"{path} does not exist: run make local first, or pass --template") from None
    except json.JSONDecodeError as error:
        raise QueryInputError(f"{path} is not JSON: {error}") from None
    return template


def _read_sql(args: argparse.Namespace) -> str:
    if args.sql is not None:
        return str(args.sql)
    try:
        return Path(args.file).read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError) as error:
        raise QueryInputError(f"cannot read the SQL file {args.file}: {error}") from None


def _inputs(args: argparse.Namespace) -> tuple[GlueTable, str]:
    if not args.archive.is_dir():
        raise QueryInputError(f"{args.archive} is not a folder: run make local first, or pass --archive")
    table = GlueTable.from_template(_read_template(args.template or template_beside(args.archive)))
    return table, _read_sql(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--sql", help="the query, in Athena's SQL")
    source.add_argument("--file", type=Path, help="a file holding the query")
    parser.add_argument("--archive", type=Path, default=LOCAL_ARCHIVE, help="the archive copy (default: %(default)s)")
    parser.add_argument("--template", type=Path, help="the archive stack's template (default: beside --archive)")
    args = parser.parse_args(argv)
    try:
        table, sql = _inputs(args)
    except QueryInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        result = run_query(sql, archive=args.archive, table=table)
    except (sqlglot.errors.SqlglotError, duckdb.Error) as error:
        print(f"query failed: {error}", file=sys.stderr)
        return 1
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
