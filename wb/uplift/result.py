"""What ``wb uplift`` reports: estimates, the verdict and the frozen result object.

:class:`UpliftResult` (``.tidy()``, ``.summary()``, ``.to_json()``) is built by
:func:`wb.uplift.estimation.fit`; this module holds only the result types and their renderings, so the
estimation code in :mod:`wb.uplift` stays about estimation. Money in yuan per WeCom add.
"""

from __future__ import annotations

import dataclasses
import html
import math
from dataclasses import dataclass, field

import pandas as pd

from wb.door.display import jsonable, table
from wb.stats.cluster import LEVEL

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


@dataclass(frozen=True)
class Verdict:
    """The contract's verdict: a code and one plain sentence, plus caveats. ``cannot_tell``
    (e.g. ``"too_few_clusters"``) with ``reason`` when no inference holds: the code is then
    ``no_detectable_uplift`` (the contract's three codes) and the sentence says why."""

    code: str
    text: str
    caveats: tuple[str, ...]
    read_from: str
    text_zh: str
    cannot_tell: str | None = None
    reason: str | None = None


# --------------------------------------------------------------------------- result


def _fmt(v: float) -> str:
    return f"{v:+,.0f}" if math.isfinite(v) else ("+∞" if v > 0 else "−∞")


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
            f"p = {few.pvalue:.3f} for no effect; 95% set {iv.kind} [{_fmt(iv.low)}, "
            f"{_fmt(iv.high)}]."
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
                    _fmt(e.coef),
                    f"{e.se:,.0f}",
                    f"[{_fmt(e.ci_low)}, {_fmt(e.ci_high)}]",
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
                _fmt(rf.coef),
                f"{rf.se:,.0f}",
                f"[{_fmt(rf.ci_low)}, {_fmt(rf.ci_high)}]",
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
            + f"; Anderson–Rubin 95% set: {ar.kind} [{_fmt(ar.low)}, "
            f"{_fmt(ar.high)}].",
            *_few_cluster_notes(r.few_clusters),
            f"Verdict ({r.verdict.code}): {r.verdict.text}",
            *(f"Caveat: {c}" for c in r.verdict.caveats),
        ]
        if r.simulated:
            t = r.simulated_truth
            notes.insert(
                0,
                "SIMULATED DATA."
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


# --------------------------------------------------------------------------- verdict


def make_verdict(
    iv: Estimate,
    ar: Interval,
    weak: bool,
    naive: Estimate,
    twfe: Estimate,
    few: FewClusters | None = None,
    months: tuple[str, str] | None = None,
) -> Verdict:
    """Read the verdict: "cannot tell" when ``few`` refuses; with few branches from the wild
    bootstrap's p-value and set; else from the IV interval (the Anderson–Rubin set when the
    first stage is weak). ``months`` (first, last, ``YYYY-MM``) is the window the sentence
    names: the estimate is about those months, not the brief's reporting period."""
    cannot_tell = reason = None
    if few is not None and few.method == "wild_bootstrap":
        low, high, kind = few.interval.low, few.interval.high, few.interval.kind
        bounded, significant = kind == "bounded", few.pvalue <= 1 - LEVEL
        source = "wild_bootstrap"
    elif weak:
        low, high, kind = ar.low, ar.high, ar.kind
        bounded = kind == "bounded"
        significant = bounded and (low > 0 or high < 0)
        source = "anderson_rubin"
    else:
        low, high, kind, bounded = iv.ci_low, iv.ci_high, "bounded", True
        significant = low > 0 or high < 0
        source = "iv_quota"
    if few is not None and few.refusal:
        source, cannot_tell, reason, significant = "none", "too_few_clusters", few.refusal, False
    if bounded:
        interval = f"95% interval {_fmt(low)} to {_fmt(high)} yuan"
        interval_zh = f"95% 置信区间 {_fmt(low)} 至 {_fmt(high)} 元"
    elif kind == "two_rays":
        interval = (
            f"weak instrument: the 95% Anderson–Rubin set is unbounded, every value outside "
            f"{_fmt(low)} to {_fmt(high)} yuan"
        )
        interval_zh = (
            "工具变量偏弱：95% Anderson–Rubin 置信集无界，"
            f"为 {_fmt(low)} 至 {_fmt(high)} 元以外的全部取值"
        )
    else:
        interval = "weak instrument: the 95% Anderson–Rubin set is unbounded, every value"
        interval_zh = "工具变量偏弱：95% Anderson–Rubin 置信集无界，包含全部取值"
    if source == "wild_bootstrap":
        interval += f"; {few.n_clusters} branches, wild cluster bootstrap p = {few.pvalue:.2f}"
        interval_zh += f"；仅 {few.n_clusters} 个支行，野聚类自助法 p = {few.pvalue:.2f}"
    when_zh = f"{months[0]}至{months[1]}，" if months else ""
    when = f"In {months[0]} to {months[1]}, a" if months else "A"
    head_zh = (
        f"{when_zh}因配额多加一个企业微信客户，客户经理名下客户的月度 AUM 变化 {_fmt(iv.coef)} 元"
        f"（{interval_zh}）"
    )
    head = (
        f"{when} quota-induced WeCom add {'changed' if months else 'changes'} a relationship "
        "manager's monthly AUM by "
        f"{_fmt(iv.coef)} yuan ({interval})"
    )
    if cannot_tell:
        code = "no_detectable_uplift"
        text = (
            "Cannot tell whether quota-driven adds change AUM"
            f"{f' (in {months[0]} to {months[1]})' if months else ''}: the quota switches on or off in "
            f"only {few.quota_clusters} of {few.n_clusters} branches, too few for any "
            f"clustered inference (the point estimate, {_fmt(iv.coef)} yuan per add, has no "
            "usable interval)."
        )
        text_zh = (
            f"无法判断{months[0] + '至' + months[1] + '期间' if months else ''}"
            f"配额驱动的加粉是否改变 AUM：配额仅在 {few.quota_clusters} 个支行"
            f"（共 {few.n_clusters} 个）开启或停止，支行太少，任何聚类推断都不成立"
            f"（点估计每个加粉 {_fmt(iv.coef)} 元，没有可用的置信区间）。"
        )
    elif significant and iv.coef > 0:
        code, text = "positive_uplift", f"{head}, so quota-driven adds do raise AUM."
        text_zh = f"{head_zh}，配额驱动的加粉确实提升了 AUM。"
    elif significant and iv.coef < 0:
        code, text = "negative_uplift", f"{head}, so quota-driven adds go with lower AUM."
        text_zh = f"{head_zh}，配额驱动的加粉伴随 AUM 下降。"
    else:
        code, text = "no_detectable_uplift", f"{head}, so no uplift can be detected."
        text_zh = f"{head_zh}，检测不到提升。"
    claims = "uplift" if naive.ci_low > 0 else ("a loss" if naive.ci_high < 0 else "nothing")
    caveats = (
        "Exclusion restriction: the quota must move AUM only through the adds it causes; "
        "penalties, effort pulled away from selling, or a campaign launched with the quota "
        "would break it.",
        f"A dashboard's pooled correlation says {_fmt(naive.coef)} yuan per add (95% "
        f"{_fmt(naive.ci_low)} to {_fmt(naive.ci_high)}) and would claim {claims}; it mixes "
        "RM skill into the adds.",
        f"With RM and month fixed effects adds go with {_fmt(twfe.coef)} yuan per add: an "
        "association, since RMs choose how many to add.",
        "The IV number is a local effect: it weights the RMs whose adds the quota moved most "
        "(those far below target) and says nothing about organic adds.",
    )
    return Verdict(code, text, caveats, source, text_zh, cannot_tell, reason)


def trend_reading(doc: dict) -> str:
    """The plain-words line on the ``honest_did`` block of ``uplift.json``
    (:class:`wb.uplift.sensitivity.TrendSensitivity`; yuan), for its summary and the brief."""
    est = doc["estimate"]
    sign = "negative" if est < 0 else "positive"
    first, last = doc["post_times"][0], doc["post_times"][-1]
    what = (
        f"The average effect over months {first}–{last} after adoption ({est:+,.0f} yuan of "
        "monthly AUM change per RM)"
    )
    rm, sd = doc["rm_breakdown"], doc["sd_breakdown"]
    if rm == 0:
        line = f"{what} is not distinguishable from 0 even with parallel trends"
    elif rm is None:
        line = f"{what} stays {sign} whatever the size of post-adoption trend breaks"
    else:
        line = (
            f"{what} stays {sign} unless post-adoption trend breaks exceed {rm:.2g}× the "
            f"largest month-to-month pre-adoption one"
        )
        if sd is not None:
            line += f", or the trend gap bends by more than {sd:,.0f} yuan per month²"
    power = ""
    if doc["slope_50"] is not None and doc["slope_80"] is not None:
        power = (
            f" The pre-trend test would catch a steady trend of {doc['slope_50']:,.0f} yuan per "
            f"month only half the time and one of {doc['slope_80']:,.0f} 80% of the time; "
            f"a trend that steep would move this average by {doc['bias_at_80']:,.0f} yuan."
        )
    return line + "." + power
