"""``wb warehouse``: the commands on the bank's customer-level warehouse (docs/warehouse.md),
``validate``, ``build`` and ``uplift``, with the engine options they share. :mod:`wb.cli` adds
this group to the one ``wb`` app and maps every outcome to an exit code."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class Engine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


warehouse_app = typer.Typer(
    help="Build the RM x month panel from the bank's customer-level warehouse (docs/warehouse.md): "
    "customer_month, wecom_contact and quota, on DuckDB (default) or Spark.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

_SourceOpt = Annotated[
    str,
    typer.Option(
        "--source",
        help="Folder with customer_month/, wecom_contact/, quota/ (Parquet), or spark:DB.",
    ),
]
_EngineOpt = Annotated[
    Engine, typer.Option("--engine", help="duckdb (embedded, default) or spark.")
]
_MasterOpt = Annotated[str, typer.Option("--spark-master", help="Spark master for --engine spark.")]
_RemoteOpt = Annotated[
    str | None,
    typer.Option(
        "--spark-remote",
        envvar="SPARK_REMOTE",
        help="Spark Connect URL (sc://host:15002); overrides --spark-master.",
    ),
]
_ThreadsOpt = Annotated[int | None, typer.Option("--threads", help="DuckDB threads [all cores].")]
_MemoryOpt = Annotated[
    str | None,
    typer.Option("--memory-limit", help="DuckDB memory limit, e.g. 2GB [40% of RAM, at most 3GB]."),
]


def _engine_options(engine, spark_master, spark_remote, memory_limit, threads=None):
    from wb.warehouse.source import EngineOptions

    return EngineOptions(
        engine=engine.value,
        memory_limit=memory_limit,
        threads=threads,
        spark_master=spark_master,
        spark_remote=spark_remote,
    )


@warehouse_app.command("validate")
def warehouse_validate(
    source: _SourceOpt,
    engine: _EngineOpt = Engine.duckdb,
    spark_master: _MasterOpt = "local[*]",
    spark_remote: _RemoteOpt = None,
    memory_limit: _MemoryOpt = None,
) -> None:
    """Check the three tables in the engine: one line per table, or every broken rule (table,
    column, rule, rows breaking it, up to five example keys; never a personal-data value) and
    exit 2.

    Example:

      wb warehouse validate --source /data/lake/wb

      wb warehouse validate --source spark:retail_dw --engine spark --spark-master yarn
    """
    from wb.warehouse import validate
    from wb.warehouse.progress import Progress
    from wb.warehouse.source import open_source

    options = _engine_options(engine, spark_master, spark_remote, memory_limit)
    src = open_source(source, options)
    try:
        report = validate.validate(src, Progress(3))
    finally:
        src.close()
    for line in report.summary_lines():
        typer.echo(line)


@warehouse_app.command("build")
def warehouse_build(
    source: _SourceOpt,
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="New folder for rm_month.parquet, add_quality.parquet, build.json."
        ),
    ],
    engine: _EngineOpt = Engine.duckdb,
    months: Annotated[
        str | None,
        typer.Option(
            "--months", help="Only months FROM..TO (YYYY-MM, inclusive; a side may be empty)."
        ),
    ] = None,
    spark_master: _MasterOpt = "local[*]",
    spark_remote: _RemoteOpt = None,
    memory_limit: _MemoryOpt = None,
    threads: _ThreadsOpt = None,
) -> None:
    """Validate the tables, then build OUT/rm_month.parquet (the RM x month panel; feeds
    `wb validate` and `wb uplift` as it is), OUT/add_quality.parquet and OUT/build.json.

    Nothing is written unless the build succeeds: it is staged beside OUT and renamed at the
    end. Progress goes to stderr; the last line of stdout is OUT.

    Example:

      wb warehouse build --source wh/ --out b/

      wb warehouse build --source spark:retail_dw --out b/ --engine spark --months 2024-01..2025-06
    """
    from wb.warehouse import build

    options = _engine_options(engine, spark_master, spark_remote, memory_limit, threads)
    result = build.build(source, out, options, months)
    record = result.record
    written, orphan = record["rows_written"], record["adds_not_placed"]
    typer.echo(
        f"built {written['rm_month']:,} RM-months from "
        f"{record['rows_read']['customer_month']:,} customer-months and "
        f"{record['rows_read']['wecom_contact']:,} contacts on {record['engine_version']} "
        f"in {record['timings_s']['total']:.1f} s"
    )
    if orphan["adds"]:
        typer.echo(
            f"adds not placed: {orphan['adds']:,} adds in {orphan['rm_months']:,} RM-months "
            "without customer rows (counted, see build.json)"
        )
    typer.echo(str(result.out))


@warehouse_app.command("uplift")
def warehouse_uplift(
    source: _SourceOpt,
    out: Annotated[
        Path,
        typer.Option("--out", help="Folder for customer_uplift.json and its figure (PNG, SVG)."),
    ],
    engine: _EngineOpt = Engine.duckdb,
    tiers: Annotated[
        str | None,
        typer.Option(
            "--tiers",
            help="AUM tier bounds in yuan, month before binding [5万,50万,600万].",
        ),
    ] = None,
    months: Annotated[
        str | None,
        typer.Option("--months", help="Customer-months to use, FROM..TO (YYYY-MM, inclusive)."),
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="trends: customer effects on the monthly AUM change (own trend; default); "
            "levels: on the AUM level.",
        ),
    ] = "trends",
    leads: Annotated[
        int, typer.Option("--leads", help="Months before binding held out as placebo [3].")
    ] = 3,
    post: Annotated[
        int, typer.Option("--post", help="Last event month of the averaged window 0..POST [5].")
    ] = 5,
    onset: Annotated[
        str,
        typer.Option(
            "--onset",
            help="certified: a binding dates from the month of the first certification "
            "(default); added: from the month its certified contact was added on WeCom.",
        ),
    ] = "certified",
    no_check: Annotated[
        bool,
        typer.Option("--no-check", help="Skip the table rules (for a source already validated)."),
    ] = False,
    spark_master: _MasterOpt = "local[*]",
    spark_remote: _RemoteOpt = None,
    memory_limit: _MemoryOpt = None,
    threads: _ThreadsOpt = None,
) -> None:
    """Customer-level uplift: does a customer's AUM change once an RM binds them on WeCom?
    A staggered event study (first binding = event; not-yet-bound customers of the same branch
    = controls; customer and branch x month effects), aggregated to cells in the engine and
    estimated on the cells; 95% intervals clustered by branch. Writes
    OUT/customer_uplift.json and OUT/customer_uplift.png/.svg, staged and renamed at the end.
    Exit 2 (nothing written) on bad tables, no bindings, no controls or < 5 branches.

    Example:

      wb warehouse uplift --source wh/ --out cu/

      wb warehouse uplift --source spark:retail_dw --out cu/ --engine spark --tiers 5万,50万,600万
    """
    from wb.plots import customer_uplift
    from wb.warehouse import uplift
    from wb.warehouse.imputation import Design, Tiers
    from wb.warehouse.progress import Progress

    options = _engine_options(engine, spark_master, spark_remote, memory_limit, threads)
    design = Design(leads=leads, post=post, model=model, tiers=Tiers.parse(tiers), onset=onset)
    result = uplift.run(
        source,
        out,
        options,
        months,
        design,
        Progress(6, label="customer uplift"),
        figures=customer_uplift.save,
        check=not no_check,
    )
    typer.echo(result.summary())
    typer.echo(str(out))
