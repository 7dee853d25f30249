"""``wb``: the one command-line door (the exit codes in README.md).

Exit codes, the same for every command: 0 ok; 1 internal error (a bug); 2 invalid input,
arguments or params; 3 a notebook cell raised; 4 timeout; 5 kernel died; 6 export failed;
75 another run holds the lock. Errors print a few lines without a traceback unless
``--debug`` is given (anywhere on the command line).
"""

from __future__ import annotations

import os
import sys
import traceback
import warnings
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from wb.cli_warehouse import warehouse_app
from wb.door import privacy
from wb.door.arguments import DEFAULTS
from wb.door.workers import one_blas_thread
from wb.errors import WbError

#: Arrow allocates from the C library's heap in ``wb``: its default pool (mimalloc) keeps the
#: pages a read frees per thread, ~0.25 GB of peak memory after reading a 3.5M-row export.
#: Read by pyarrow when it is first imported; a value already set is kept.
ARROW_POOL_ENV = ("ARROW_DEFAULT_MEMORY_POOL", "system")

app = typer.Typer(
    name="wb",
    help=(
        "wb: research workbench for Chinese retail banking (bank comparison, WeCom quota "
        "uplift, PDF briefs).\n\n"
        "Example:\n\n"
        "  wb simulate --out x.parquet --rms 2000 --months 24 --seed 1\n\n"
        "  wb validate --data x.parquet\n\n"
        "Exit codes: 0 ok, 1 bug, 2 invalid input, 3 cell raised, 4 timeout, 5 kernel died, "
        "6 export failed, 75 locked. Add --debug anywhere for a traceback."
    ),
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class SimulationLevel(StrEnum):
    rm = "rm"
    customer = "customer"


class SchemaName(StrEnum):
    rm_month = "rm_month"
    bank_panel = "bank_panel"


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    """Global options."""


@app.command()
def validate(
    data: Annotated[Path, typer.Option("--data", help="CSV, Parquet or XLSX file to check.")],
    schema: Annotated[
        SchemaName | None,
        typer.Option(
            "--schema", help="rm_month or bank_panel; inferred from the columns when omitted."
        ),
    ] = None,
) -> None:
    """Check an input file against its schema: one summary line, or every problem and exit 2.

    Example:

      wb validate --data exports/rm_month_2025.xlsx

      wb validate --data data/bank_panel.csv --schema bank_panel
    """
    from wb.door import io

    loaded = io.load(data, schema.value if schema else None)
    typer.echo(loaded.summary())


@app.command()
def simulate(
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Output .csv, .parquet or .xlsx path (--level customer: a folder)."
        ),
    ],
    rms: Annotated[
        int | None,
        typer.Option(
            "--rms",
            help=f"Number of relationship managers [{DEFAULTS.rm_level_rms}; customer level "
            f"{DEFAULTS.customer_level_rms}].",
        ),
    ] = None,
    months: Annotated[int, typer.Option("--months", help="Number of months.")] = DEFAULTS.n_months,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = DEFAULTS.seed,
    beta_quota: Annotated[
        float, typer.Option("--beta-quota", help="True AUM change per quota-induced add, yuan.")
    ] = DEFAULTS.beta_quota,
    beta_organic: Annotated[
        float, typer.Option("--beta-organic", help="True AUM change per organic add, yuan.")
    ] = DEFAULTS.beta_organic,
    level: Annotated[
        SimulationLevel,
        typer.Option(
            "--level",
            help="rm: an RM x month export; customer: a warehouse source (docs/warehouse.md).",
        ),
    ] = SimulationLevel.rm,
    customers: Annotated[
        int, typer.Option("--customers", help="--level customer: mean customers per RM.")
    ] = DEFAULTS.customers_per_rm,
) -> None:
    """Write a simulated RM x month export with known true effects, and PATH.truth.json.

    With --level customer, write a warehouse source instead: the folders customer_month/,
    wecom_contact/ and quota/ (Parquet) and truth.json, for `wb warehouse build`.
    Every file is stamped SIMULATED (a wb_simulated column, Parquet metadata, an XLSX
    property; docs/data.md): copied anywhere, under any name, its outputs say so.
    Same arguments and seed give the same bytes.

    Example:

      wb simulate --out s.parquet --rms 2000 --months 24 --seed 1 --beta-quota -20000

      wb simulate --level customer --out wh/ --rms 200 --customers 40 --beta-quota -20000
    """
    if level is SimulationLevel.customer:
        from wb.warehouse import simulate

        wconfig = simulate.CustomerSimulationConfig(
            n_rms=DEFAULTS.customer_level_rms if rms is None else rms,
            n_months=months,
            seed=seed,
            customers_per_rm=customers,
            beta_quota=beta_quota,
            beta_organic=beta_organic,
        )
        folder, wtruth = simulate.write(wconfig, out)
        rows = wtruth["rows"]
        typer.echo(
            f"wrote {folder} ({rows['customer_month']:,} customer-months, "
            f"{rows['wecom_contact']:,} contacts, {rows['quota']:,} quota rows; SIMULATED, "
            f"beta_quota={beta_quota:g} yuan/add) and {folder / simulate.TRUTH}"
        )
        return
    rms = DEFAULTS.rm_level_rms if rms is None else rms
    from wb.uplift import simulate

    config = simulate.SimulationConfig(
        n_rms=rms, n_months=months, seed=seed, beta_quota=beta_quota, beta_organic=beta_organic
    )
    path, truth, frame = simulate.write(config, out)
    typer.echo(
        f"wrote {path} ({len(frame):,} rows, {frame['rm_id'].nunique():,} RMs; "
        f"SIMULATED, beta_quota={beta_quota:g} yuan/add) and {truth}"
    )


@app.command()
def uplift(
    data: Annotated[Path, typer.Option("--data", help="RM x month export (rm_month schema).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for uplift.json and figures.")],
    quick: Annotated[
        bool,
        typer.Option("--quick", help="Only the three contract estimates: no designs, no figures."),
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstraps.")] = 1,
    quality: Annotated[
        Path | None,
        typer.Option(
            "--quality",
            help="add_quality.parquet (wb warehouse build): also say what a quota-induced add is.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Processes for the designs and figures (default: one per core; 1: this one).",
        ),
    ] = None,
) -> None:
    """Quota-uplift analysis, written to OUT/uplift.json: naive OLS, TWFE and FE-2SLS with
    diagnostics, and (without --quick) the designs a referee asks for: event studies
    (Callaway-Sant'Anna, BJS imputation), Wald-DiD, sensitivity to pre-trends (Rambachan-Roth
    bounds, pre-trend power), bunching at the target, the certified split, more outcomes
    (Holm-adjusted), robustness checks, IV-WAS beside FE-2SLS and the dynamic effects of
    quota-target changes (DID_l).

    Without --quick also writes the figures (PNG and SVG): uplift_forest, uplift_binscatter,
    uplift_by_quota, uplift_event_study, uplift_bunching, uplift_dynamic, uplift_designs,
    uplift_sensitivity. Per-design times go to stderr. The last line printed is the path of
    uplift.json. With --quality, the add_quality key holds the make-up of the quota-induced add
    (certified, existing customer, removed within 30/90 days, ring contact, month end) beside
    adds without a quota, and the figure uplift_add_quality shows the funnel.

    Example:

      wb uplift --data s.parquet --out u/

      wb uplift --data b/rm_month.parquet --quality b/add_quality.parquet --out u/
    """
    from wb.run import uplift_outputs

    analysis = uplift_outputs.analyse(
        data, out, quick=quick, seed=seed, quality=quality, workers=workers
    )
    result = analysis.result
    typer.echo(str(result.summary()))
    if analysis.add_quality is not None:
        typer.echo(analysis.add_quality.summary())
    if analysis.designs is not None:
        typer.echo(analysis.designs.summary())
        for name, seconds in analysis.designs.timings_s.items():
            typer.echo(f"time: {name}: {seconds:.1f} s", err=True)
    typer.echo(f"verdict: {result.verdict.code}: {result.verdict_text(caveats=False)}")
    typer.echo(str(out / uplift_outputs.JSON_NAME))


@app.command()
def run(
    params: Annotated[Path, typer.Argument(help="Params YAML file.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for run folders.")] = Path("runs"),
    force: Annotated[bool, typer.Option("--force", help="Run even if up to date.")] = False,
) -> None:
    """Execute the notebooks a params file names and build the PDF brief in a new run folder.

    Progress goes to stderr; the last line of stdout is the run folder. A re-run with the same
    params, data and code says "up to date" unless --force. On failure: nothing promoted,
    `latest` untouched, the staging folder kept under OUT/failed/, a three-line summary
    (traceback with --debug) and exit 3 cell raised, 4 timeout, 5 kernel, 6 export, 75 locked.

    Example:

      wb run params/demo.yaml

      wb run params/demo.yaml --out /srv/wb/runs --force
    """
    from wb.run import runner

    result = runner.run(params, out, force=force, say=lambda line: typer.echo(line, err=True))
    if result.up_to_date:
        typer.echo(
            f"up to date: same params, data and code as {result.run_id} (--force runs again)"
        )
    typer.echo(str(result.folder))


runs_app = typer.Typer(
    help="Look back over run folders: list them, compare two.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(runs_app, name="runs")
app.add_typer(warehouse_app, name="warehouse")


@runs_app.command("list")
def runs_list(
    out: Annotated[Path, typer.Option("--out", help="Folder holding run folders.")] = Path("runs"),
) -> None:
    """List run folders (promoted and failed): id, period, status, duration; * marks latest.

    Example:

      wb runs list --out runs
    """
    from wb.run import runs

    typer.echo(runs.format_list(runs.list_runs(out)))


@runs_app.command("compare")
def runs_compare(
    a: Annotated[str, typer.Argument(help="Run id, 'latest' or a run folder path.")],
    b: Annotated[str, typer.Argument(help="Run id, 'latest' or a run folder path.")],
    out: Annotated[Path, typer.Option("--out", help="Folder holding run folders.")] = Path("runs"),
) -> None:
    """Show which inputs and which key numbers changed between two runs.

    Example:

      wb runs compare H1-2025-1a2b3c4d-20260105T063000 latest
    """
    from wb.run import runs

    typer.echo("\n".join(runs.compare(runs.find(out, a), runs.find(out, b))))


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """wb's own warnings as written; a library's (PySpark repeats a failed job's Java error,
    file paths included, as a warning) through the one screen of engine messages."""
    own = Path(filename).resolve().is_relative_to(Path(__file__).resolve().parent)
    print(f"warning: {message if own else privacy.screen(message)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app and map every outcome to a contract exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args = ["--debug", *[a for a in args if a != "--debug"]]
    warnings.showwarning = _show_warning
    os.environ.setdefault(*ARROW_POOL_ENV)
    one_blas_thread()
    code = 0
    try:
        app(args=args, prog_name="wb", standalone_mode=False)
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        print("aborted", file=sys.stderr)
        code = 130
    except typer.TyperException as exc:  # usage errors: bad or missing options
        exc.show()
        code = 2
    except WbError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except Exception as exc:  # a bug: say so briefly, trace only on request
        if debug:
            traceback.print_exc()
        from wb.door.privacy import screen  # an engine's message may name files or values

        print(
            f"internal error (a bug): {type(exc).__name__}: {screen(exc)}\n"
            "rerun with --debug for the traceback",
            file=sys.stderr,
        )
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
