"""make query: Athena's SQL over an archive copy with DuckDB, reading the table as its Glue definition says.

The template here is a small hand-written one shaped as the archive stack's; tests/test_archive_queries.py runs the
archive README's queries over the synthesized template, and tests/test_local_fleet_end_to_end.py over a local run.
"""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from tools.common.local_archive import template_beside
from tools.operations.query import GlueTable, QueryInputError, duckdb_type, main, render, run_query, translated

TABLE = {
    "Type": "AWS::Glue::Table",
    "Properties": {
        "DatabaseName": "iot_dev_archive",
        "TableInput": {
            "Name": "readings",
            "Parameters": {"classification": "json", "compressionType": "gzip"},
            "PartitionKeys": [{"Name": key, "Type": "int"} for key in ("year", "month", "day", "hour")],
            "StorageDescriptor": {
                "Location": {"Fn::Join": ["", ["s3://", {"Ref": "RawArchive"}, "/readings/"]]},
                "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"},
                "Columns": [
                    {"Name": "sensor_id", "Type": "string"},
                    {"Name": "value", "Type": "double"},
                    {"Name": "timestamp", "Type": "string"},
                ],
            },
        },
    },
}
TEMPLATE = {"Resources": {"Database": {"Type": "AWS::Glue::Database"}, "ReadingsTable": TABLE}}
LINES = {
    (2026, 11, 27, 13): [b'{"sensor_id": "s-1", "value": 21.5, "timestamp": "2026-11-27T13:05:00Z"}',
                         b'{"sensor_id": "s-2", "value": 22, "timestamp": 1795266300000}'],
    (2026, 11, 27, 14): [b'{"sensor_id": "s-1", "value": 23.5, "timestamp": "2026-11-27T14:05:00Z"}',
                         b'{"sensor_id": "s-3", "value": 2'],
}  # fmt: skip


def write_archive(root: Path, template: dict[str, Any] = TEMPLATE) -> Path:
    archive = root / "local-archive"
    for (year, month, day, hour), lines in LINES.items():
        folder = archive / f"readings/year={year}/month={month:02d}/day={day:02d}/hour={hour:02d}"
        folder.mkdir(parents=True)
        (folder / "local-firehose-1.gz").write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    template_beside(archive).write_text(json.dumps(template), encoding="utf-8")
    return archive


def table_with(**changes: Any) -> dict[str, Any]:
    template: dict[str, Any] = copy.deepcopy(TEMPLATE)
    properties = template["Resources"]["ReadingsTable"]["Properties"]
    for path, value in changes.items():
        target = properties
        *parents, leaf = path.split("__")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return template


def test_the_table_is_read_from_its_glue_definition() -> None:
    table = GlueTable.from_template(TEMPLATE)
    assert (table.database, table.name, table.prefix, table.compression) == (
        "iot_dev_archive",
        "readings",
        "readings/",
        "gzip",
    )
    assert table.columns == (("sensor_id", "VARCHAR"), ("value", "DOUBLE"), ("timestamp", "VARCHAR"))
    assert table.partition_keys == tuple((key, "INTEGER") for key in ("year", "month", "day", "hour"))


def test_each_row_is_a_line_and_a_line_that_is_not_json_is_a_row_of_nulls(tmp_path: Path) -> None:
    archive = write_archive(tmp_path)
    sql = 'SELECT hour, sensor_id, value, "timestamp" FROM iot_prod_archive.readings ORDER BY hour, sensor_id'
    result = run_query(sql, archive=archive, table=GlueTable.from_template(TEMPLATE))
    assert result.columns == ["hour", "sensor_id", "value", "timestamp"]
    assert result.rows == [
        (13, "s-1", 21.5, "2026-11-27T13:05:00Z"),
        (13, "s-2", 22.0, "1795266300000"),  # a number in a string column, as the SerDe reads it
        (14, "s-1", 23.5, "2026-11-27T14:05:00Z"),
        (14, None, None, None),  # not JSON: the SerDe's ignore.malformed.json gives a row of nulls
    ]


def test_the_partition_types_come_from_the_table(tmp_path: Path) -> None:
    template = table_with(
        TableInput__PartitionKeys=[{"Name": k, "Type": "string"} for k in ("year", "month", "day", "hour")]
    )
    archive = write_archive(tmp_path, template)
    result = run_query("SELECT DISTINCT hour FROM x.readings ORDER BY hour", archive=archive,
                       table=GlueTable.from_template(template))  # fmt: skip
    assert result.rows == [("13",), ("14",)]  # strings now: the zero-padded folder names


def test_athenas_dialect_is_translated_and_any_database_of_the_table_is_this_archive() -> None:
    table = GlueTable.from_template(TEMPLATE)
    sql = 'SELECT try(from_iso8601_timestamp("timestamp")) FROM awsdatacatalog.iot_prod_archive.readings'
    assert translated(sql, table) == 'SELECT TRY(CAST("timestamp" AS TIMESTAMPTZ)) FROM iot_dev_archive.readings'
    assert translated("SELECT 1 WHERE regexp_like(x, '^s')", table) == "SELECT 1 WHERE REGEXP_MATCHES(x, '^s')"
    assert translated("SELECT 1 FROM readings", table) == "SELECT 1 FROM iot_dev_archive.readings"
    assert translated("SELECT 1 FROM other", table) == "SELECT 1 FROM other"


@pytest.mark.parametrize(
    ("glue", "duck"), [("string", "VARCHAR"), ("bigint", "BIGINT"), ("decimal(38, 10)", "DECIMAL(38, 10)")]
)
def test_glue_types_map_to_duckdb_types(glue: str, duck: str) -> None:
    assert duckdb_type(glue) == duck


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ({"Resources": {}}, "the template has 0 Glue tables"),
        ({"Resources": {"A": TABLE, "B": TABLE}}, "the template has 2 Glue tables"),
        (table_with(TableInput__StorageDescriptor__SerdeInfo={"SerializationLibrary": "parquet"}), "SerDe is parquet"),
        (table_with(TableInput__PartitionKeys=[{"Name": "year", "Type": "array<int>"}]), "'array<int>' has no DuckDB"),
        (table_with(DatabaseName={"Ref": "Database"}), 'DatabaseName is {"Ref": "Database"}'),
        (table_with(TableInput__StorageDescriptor__Location={"Ref": "Somewhere"}), "cannot read the table's location"),
        (table_with(TableInput__Parameters={"compressionType": "snappy"}), "compressionType 'snappy' is not one of"),
    ],
)
def test_a_table_this_tool_cannot_read_is_refused_by_name(template: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryInputError, match=message.replace("(", r"\(")):
        GlueTable.from_template(template)


def test_render_aligns_columns_and_counts_rows() -> None:
    from tools.operations.query import Result  # noqa: PLC0415

    assert render(Result(["hour", "records"], [(13, 2), (14, None)])) == (
        "hour  records\n----  -------\n13    2\n14    NULL\n(2 rows)"
    )


def test_main_prints_the_result_of_a_query_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = write_archive(tmp_path)
    query = tmp_path / "per-hour.sql"
    query.write_text("SELECT hour, count(*) AS records FROM iot_prod_archive.readings GROUP BY hour ORDER BY hour;\n")
    assert main(["--archive", str(archive), "--file", str(query)]) == 0
    assert capsys.readouterr().out == "hour  records\n----  -------\n13    2\n14    2\n(2 rows)\n"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--archive", "{tmp}/absent", "--sql", "SELECT 1"], "{tmp}/absent is not a folder: run make local first"),
        (["--archive", "{archive}", "--template", "{tmp}/absent.json", "--sql", "SELECT 1"],
         "{tmp}/absent.json does not exist: run make local first, or pass --template"),
        (["--archive", "{archive}", "--template", "{archive}/../per-hour.sql", "--sql", "SELECT 1"], "is not JSON"),
        (["--archive", "{archive}", "--file", "{tmp}/absent.sql"], "cannot read the SQL file {tmp}/absent.sql"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_naming_it(
    arguments: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = write_archive(tmp_path)
    (tmp_path / "per-hour.sql").write_text("SELECT 1")
    values = {"tmp": str(tmp_path), "archive": str(archive)}
    assert main([argument.format(**values) for argument in arguments]) == 2
    assert message.format(**values) in capsys.readouterr().err


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT nonexistent FROM iot_dev_archive.readings", "query failed: Binder Error"),
        ("SELECT 1; SELECT 2", "query failed: expected one SQL statement, got 2"),
        ("SELECT FROM WHERE (", "query failed:"),
    ],
)
def test_a_query_that_fails_exits_1(sql: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--archive", str(write_archive(tmp_path)), "--sql", sql]) == 1
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("arguments", [[], ["--sql", "SELECT 1", "--file", "q.sql"], ["--sqll", "SELECT 1"]])
def test_bad_arguments_exit_2(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(arguments)
    assert exit_.value.code == 2
    assert "usage:" in capsys.readouterr().err
