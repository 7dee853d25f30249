"""What ``wb uplift`` reports: the estimates and the frozen result object.

:class:`UpliftResult` (``.tidy()``, ``.summary()``, ``.to_json()``) is built by
:func:`wb.uplift.estimation.fit`; this module holds the result types, the models' names and
the result's renderings (the verdict's sentence is read in :mod:`wb.uplift.verdict`), so the
estimation code in :mod:`wb.uplift` stays about estimation. Money in yuan per WeCom add.
"""

from __future__ import annotations

import dataclasses
import html
from dataclasses import dataclass, field

import pandas as pd

from wb.door import provenance
from wb.door.display import jsonable, table
from wb.stats.cluster import LEVEL
from wb.uplift.verdict import Verdict, signed_yuan

SCHEMA = "wb.uplift/1"
OUTCOME = "aum_change_cny"
WEAK_F = 10.0


@dataclass(frozen=True)
class Model:
    """How every rendering names one of the contract's models: Chinese, English, the full
    English description and what its number is."""

    zh: str
    en: str
    described: str
    reading: str

    @property
    def label(self) -> str:
        """``"双向固定效应 TWFE"``: the bilingual short name."""
        return f"{self.zh} {self.en}"


#: The contract's three models, in the order they are reported: the one home of their names.
MODELS = {
    "naive_ols": Model(
        "朴素回归", "Naive OLS", "Naive pooled OLS (dashboard correlation)", "dashboard"
    ),
    "twfe": Model("双向固定效应", "TWFE", "TWFE: RM + month fixed effects", "association"),
    "iv_quota": Model(
        "工具变量",
        "FE-2SLS",
        "FE-2SLS: adds instrumented by quota in force",
        "quota-induced add",
    ),
}


# --------------------------------------------------------------------------- estimates


#: An :class:`Estimate`'s numbers, in the order every table shows them.
NUMBERS = ("coef", "se", "ci_low", "ci_high", "pvalue", "n_obs")


@dataclass(frozen=True)
class Estimate:
    """One coefficient: yuan (or adds) per unit, with a cluster-robust SE and 95% interval."""

    model: str
    term: str
    coef: float
    se: float
    ci_low: float
    ci_high: float
    pvalue: float
    n_obs: int

    def to_json(self) -> dict:
        """``model``, ``term``, ``coef``, ``se``, ``ci_low``, ``ci_high``, ``pvalue``, ``n_obs``;
        a NaN becomes ``None``."""
        return {k: jsonable(v) for k, v in dataclasses.asdict(self).items()}

    def cells(self, prefix: str = "") -> dict[str, float]:
        """The numbers as table cells (``coef``, ``se``, ``ci_low``, ``ci_high``, ``pvalue``,
        ``n_obs``), keys prefixed (``per_add_coef``, …)."""
        return {f"{prefix}{k}": getattr(self, k) for k in NUMBERS}


@dataclass(frozen=True)
class Interval:
    """A confidence set: ``kind`` is 'bounded', 'two_rays' (outside [low, high]) or 'whole_line'."""

    kind: str
    low: float
    high: float

    def covers(self, value: float) -> bool:
        if self.kind == "whole_line":
            return True
        inside = self.low <= value <= self.high
        return inside if self.kind == "bounded" else not inside


@dataclass(frozen=True)
class FewClusters:
    """How the verdict's inference copes with the branch clusters at hand.

    ``method``: ``"wild_bootstrap"`` (fewer than ``WILD_MAX_CLUSTERS`` branches: the wild
    cluster restricted bootstrap of the Anderson–Rubin test, ``pvalue`` of β = 0 and the 95%
    set ``interval`` by inversion, ``reps`` draws of ``weights`` weights, all distinct draws
    when ``enumerated``), ``"crv1"`` (enough branches: the CRV1 interval) or ``"none"``
    (``refusal`` says why no inference holds). ``quota_clusters``: branches in which the quota
    switches on or off.
    """

    n_clusters: int
    quota_clusters: int
    method: str
    pvalue: float | None = None
    interval: Interval | None = None
    reps: int | None = None
    weights: str | None = None
    enumerated: bool | None = None
    refusal: str | None = None

    def to_json(self) -> dict:
        out = {
            "method": self.method,
            "clusters": self.n_clusters,
            "quota_clusters": self.quota_clusters,
        }
        if self.method == "wild_bootstrap":
            iv = self.interval
            out |= {
                "test": "wild cluster restricted bootstrap of the Anderson–Rubin test (reduced "
                "form with beta = beta0 imposed), symmetric p-value",
                "pvalue": jsonable(self.pvalue),
                "ci_kind": iv.kind,
                "ci_low": jsonable(iv.low),
                "ci_high": jsonable(iv.high),
                "reps": self.reps,
                "weights": self.weights,
                "enumerated": self.enumerated,
            }
        if self.refusal:
            out["refusal"] = self.refusal
        return out


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class UpliftResult:
    """Frozen result of :func:`estimate`. Money in yuan of monthly AUM change per WeCom add.

    ``tidy()`` is the one canonical table; ``summary()``, ``to_json()`` and the figures are
    renderings of it and of the small descriptive tables ``bins`` and ``by_quota``.
    """

    estimates: tuple[Estimate, ...]
    first_stage: Estimate
    reduced_form: Estimate
    ar_interval: Interval
    counts: dict
    n_obs: int
    n_rms: int
    n_branches: int
    first_month: str
    last_month: str
    verdict: Verdict
    few_clusters: FewClusters
    bins: pd.DataFrame = field(repr=False)
    by_quota: pd.DataFrame = field(repr=False)
    data_label: str = "RM x month export"
    simulated_truth: dict | None = None
    #: The data say they are simulated (a ``wb simulate`` stamp) even without their truth.
    stamped_simulated: bool = False

    def tidy(self) -> pd.DataFrame:
        """One row per (model, term): coef, se, ci_low, ci_high, pvalue, n_obs."""
        rows = [*self.estimates, self.first_stage, self.reduced_form]
        return table(pd.DataFrame([e.__dict__ for e in rows]))

    def estimate_of(self, model: str) -> Estimate:
        return next(
            e for e in (*self.estimates, self.first_stage, self.reduced_form) if e.model == model
        )

    @property
    def effective_f(self) -> float:
        """First-stage effective F (Montiel Olea–Pflueger; one instrument: the robust t²)."""
        fs = self.first_stage
        return (fs.coef / fs.se) ** 2

    @property
    def simulated(self) -> bool:
        """Simulated data: the simulator's truth is known, or the file carries its stamp."""
        return self.stamped_simulated or self.simulated_truth is not None

    def verdict_text(self, caveats: bool = True) -> str:
        """The verdict as notebook 20 and ``wb uplift`` print it: its sentence, after
        :data:`wb.door.provenance.LABEL` when the data are simulated, then (``caveats``) each
        caveat on a line of its own."""
        mark = f"{provenance.LABEL}: " if self.simulated else ""
        lines = [mark + self.verdict.text]
        if caveats:
            lines += [f"- {c}" for c in self.verdict.caveats]
        return "\n".join(lines)

    def to_json(self) -> dict:
        """The ``uplift.json`` document (schema ``wb.uplift/1``) with diagnostics."""

        def block(e: Estimate) -> dict:
            return {"coef": e.coef, "se": e.se, "ci_low": e.ci_low, "ci_high": e.ci_high}

        est = {e.model: block(e) for e in self.estimates}
        est["iv_quota"]["first_stage_f"] = self.effective_f
        ar = self.ar_interval
        doc = {
            "schema": SCHEMA,
            "outcome": OUTCOME,
            "n_obs": self.n_obs,
            "n_rms": self.n_rms,
            "n_branches": self.n_branches,
            "first_month": self.first_month,
            "last_month": self.last_month,
            "estimates": est,
            "verdict": {
                "code": self.verdict.code,
                "text": self.verdict.text,
                "text_zh": self.verdict.text_zh,
                "caveats": list(self.verdict.caveats),
                "read_from": self.verdict.read_from,
                **(
                    {"cannot_tell": self.verdict.cannot_tell, "reason": self.verdict.reason}
                    if self.verdict.cannot_tell
                    else {}
                ),
            },
            "diagnostics": {
                "first_stage": {
                    **block(self.first_stage),
                    "effective_f": self.effective_f,
                    "unit": "adds per RM-month with a quota in force",
                },
                "reduced_form": {
                    **block(self.reduced_form),
                    "unit": "yuan of monthly AUM change per RM-month with a quota",
                },
                "weak_instrument": self.effective_f < WEAK_F
                or self.few_clusters.refusal is not None,
                "few_clusters": self.few_clusters.to_json(),
                "anderson_rubin": {
                    "kind": ar.kind,
                    "ci_low": jsonable(ar.low),
                    "ci_high": jsonable(ar.high),
                },
                "observations": self.counts,
                "clusters": self.n_branches,
                "cluster_rule": "branch; an RM who moved is clustered with the branch of most "
                "months",
                "ci_level": LEVEL,
            },
            "data": {"label": self.data_label, "simulated": self.simulated},
        }
        if self.simulated_truth is not None:
            doc["simulated_truth"] = self.simulated_truth
        return doc

    def summary(self) -> Summary:
        """A summary a person reads: text via ``str()``, a table in JupyterLab."""
        return Summary(self)

    def _repr_html_(self) -> str:
        return self.summary().as_html()


def _few_cluster_notes(few: FewClusters) -> list[str]:
    if few.method == "wild_bootstrap":
        iv = few.interval
        draws = "every distinct draw" if few.enumerated else f"{few.reps:,} draws"
        return [
            f"Few branches ({few.n_clusters}): the verdict is read from the wild cluster "
            f"restricted bootstrap of the Anderson–Rubin test ({few.weights} weights, {draws}): "
            f"p = {few.pvalue:.3f} for no effect; 95% set {iv.kind} [{signed_yuan(iv.low)}, "
            f"{signed_yuan(iv.high)}]."
        ]
    if few.refusal:
        return [f"Cannot tell: {few.refusal}."]
    return []


class Summary:
    """Renders an :class:`UpliftResult` as text or HTML (statsmodels-style)."""

    def __init__(self, result: UpliftResult):
        self.result = result

    def _rows(self) -> list[tuple[str, str, str, str, str]]:
        r = self.result
        rows = []
        for e in r.estimates:
            rows.append(
                (
                    MODELS[e.model].described,
                    signed_yuan(e.coef),
                    f"{e.se:,.0f}",
                    f"[{signed_yuan(e.ci_low)}, {signed_yuan(e.ci_high)}]",
                    f"{e.pvalue:.3f}",
                )
            )
        fs, rf = r.first_stage, r.reduced_form
        rows.append(
            (
                "First stage: adds per quota month",
                f"{fs.coef:+.2f}",
                f"{fs.se:.2f}",
                f"[{fs.ci_low:+.2f}, {fs.ci_high:+.2f}]",
                f"{fs.pvalue:.3f}",
            )
        )
        rows.append(
            (
                "Reduced form: ΔAUM per quota month",
                signed_yuan(rf.coef),
                f"{rf.se:,.0f}",
                f"[{signed_yuan(rf.ci_low)}, {signed_yuan(rf.ci_high)}]",
                f"{rf.pvalue:.3f}",
            )
        )
        return rows

    def _notes(self) -> list[str]:
        r = self.result
        c = r.counts
        ar = r.ar_interval
        notes = [
            f"Outcome: monthly change in AUM (yuan) per WeCom add; {r.n_obs:,} RM-months, "
            f"{r.n_rms:,} RMs, {r.n_branches:,} branch clusters, {r.first_month} to "
            f"{r.last_month}; {r.data_label}.",
            f"Dropped: {c['first_months_dropped']:,} first months, {c['gap_months_dropped']:,} "
            f"months after a gap, {c['singletons_dropped']:,} singletons; {c['movers']:,} RMs "
            "changed branch.",
            f"Effective first-stage F = {r.effective_f:,.1f}"
            + (
                " (meaningless: the quota switches in only "
                f"{r.few_clusters.quota_clusters} branch(es))"
                if r.few_clusters.refusal
                else " (weak: verdict read from the Anderson–Rubin set)"
                if r.effective_f < WEAK_F
                else ""
            )
            + f"; Anderson–Rubin 95% set: {ar.kind} [{signed_yuan(ar.low)}, "
            f"{signed_yuan(ar.high)}].",
            *_few_cluster_notes(r.few_clusters),
            f"Verdict ({r.verdict.code}): {r.verdict.text}",
            *(f"Caveat: {c}" for c in r.verdict.caveats),
        ]
        if r.simulated:
            t = r.simulated_truth
            notes.insert(
                0,
                f"{provenance.LABEL}."
                + (
                    " True effects: quota-induced add "
                    f"{t['beta_quota_cny_per_add']:+,.0f} yuan, organic add "
                    f"{t['beta_organic_cny_per_add']:+,.0f} yuan."
                    if t
                    else ""
                ),
            )
        return notes

    def as_text(self) -> str:
        head = ("Model", "Coef (yuan/add)", "SE", "95% CI", "p")
        rows = [head, *self._rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        line = "  ".join("-" * w for w in widths)
        out = ["Quota uplift: AUM change per WeCom add (SEs clustered by branch)", line]
        for i, row in enumerate(rows):
            out.append(
                "  ".join(
                    cell.ljust(w) if j == 0 else cell.rjust(w)
                    for j, (cell, w) in enumerate(zip(row, widths, strict=True))
                )
            )
            if i == 0:
                out.append(line)
        out.append(line)
        out.extend(self._notes())
        return "\n".join(out)

    def as_html(self) -> str:
        cells = "".join(
            "<tr>"
            + "".join(
                f"<td style='text-align:{'left' if j == 0 else 'right'}'>{html.escape(c)}</td>"
                for j, c in enumerate(row)
            )
            + "</tr>"
            for row in self._rows()
        )
        head = "".join(f"<th>{h}</th>" for h in ("Model", "Coef (yuan/add)", "SE", "95% CI", "p"))
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self._notes())
        return (
            f"<div><b>Quota uplift: AUM change per WeCom add</b> (SEs clustered by branch)"
            f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>"
            f"<ul>{notes}</ul></div>"
        )

    def __str__(self) -> str:
        return self.as_text()

    def _repr_html_(self) -> str:
        return self.as_html()
