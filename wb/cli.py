"""``wb``: the one command-line door (CONTRACT.md §2).

Exit codes, the same for every command: 0 ok; 1 internal error (a bug); 2 invalid input,
arguments or params; 3 a notebook cell raised; 4 timeout; 5 kernel died; 6 export failed;
75 another run holds the lock. Errors print a few lines without a traceback unless
``--debug`` is given (anywhere on the command line).
"""

from __future__ import annotations

import sys
import traceback
import warnings
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from wb.errors import WbError

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
    out: Annotated[Path, typer.Option("--out", help="Output .csv or .parquet path.")],
    rms: Annotated[int, typer.Option("--rms", help="Number of relationship managers.")] = 2000,
    months: Annotated[int, typer.Option("--months", help="Number of months.")] = 24,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 1,
    beta_quota: Annotated[
        float, typer.Option("--beta-quota", help="True AUM change per quota-induced add, yuan.")
    ] = 0.0,
    beta_organic: Annotated[
        float, typer.Option("--beta-organic", help="True AUM change per organic add, yuan.")
    ] = 20_000.0,
) -> None:
    """Write a simulated RM x month export with known true effects, and PATH.truth.json.

    Same arguments and seed give the same bytes.

    Example:

      wb simulate --out s.parquet --rms 2000 --months 24 --seed 1 --beta-quota -20000
    """
    from wb.uplift import simulate as sim

    config = sim.SimulationConfig(
        n_rms=rms, n_months=months, seed=seed, beta_quota=beta_quota, beta_organic=beta_organic
    )
    path, truth, frame = sim.write(config, out)
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
) -> None:
    """Quota-uplift analysis, written to OUT/uplift.json: naive OLS, TWFE and FE-2SLS with
    diagnostics, and (without --quick) the designs a referee asks for: event studies
    (Callaway-Sant'Anna, BJS imputation), Wald-DiD, bunching at the target, the certified
    split, more outcomes (Holm-adjusted) and robustness checks.

    Without --quick also writes the figures (PNG and SVG): uplift_forest, uplift_binscatter,
    uplift_by_quota, uplift_event_study, uplift_bunching, uplift_designs. Per-design times go
    to stderr. The last line printed is the path of uplift.json.

    Example:

      wb uplift --data s.parquet --out u/
    """
    from wb.run import uplift_outputs

    analysis = uplift_outputs.analyse(data, out, quick=quick, seed=seed)
    result = analysis.result
    typer.echo(str(result.summary()))
    if analysis.designs is not None:
        typer.echo(uplift_outputs.designs_text(analysis.designs))
        for name, seconds in analysis.designs.timings_s.items():
            typer.echo(f"time: {name}: {seconds:.1f} s", err=True)
    typer.echo(f"verdict: {result.verdict.code}: {result.verdict.text}")
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
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app and map every outcome to a contract exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args = ["--debug", *[a for a in args if a != "--debug"]]
    warnings.showwarning = _show_warning
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
        print(
            f"internal error (a bug): {type(exc).__name__}: {exc}\n"
            "rerun with --debug for the traceback",
            file=sys.stderr,
        )
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
