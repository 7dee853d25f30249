"""The per-add effect under every design and check, on one axis (yuan of monthly AUM per add).

Drawn from the ``uplift.json`` document (the contract estimates plus the design keys), so the
figure shows exactly what the file says.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from wb.plots.common import PER_ADD_AXIS, finish, interval, print_figure, zero_and_truth
from wb.plots.theme import PALETTE, signed, theme_context

#: (label, colour) per row, top to bottom; each row's numbers are looked up in the document.
_ROWS = (
    ("iv", "工具变量 FE-2SLS (contract number)", "blue"),
    ("wald_did", "Wald-DiD: robust ATT ratio", "sky"),
    ("winsorised", "FE-2SLS, AUM change\nwinsorised 1/99%", "blue"),
    ("no_quarter_end", "FE-2SLS, quarter-end\nmonths dropped", "blue"),
    ("certified", "per certified add 每认证客户\n(if uncertified ones do nothing)", "green"),
    ("uncertified", "per uncertified add 每未认证客户\n(if certified ones do nothing)", "orange"),
    ("twfe", "TWFE RM + month\n(association)", "vermillion"),
    ("branch_month_fe", "TWFE RM + branch×month\n(association)", "vermillion"),
)


def _row(doc: dict, key: str) -> dict | None:
    robustness, split = doc.get("robustness", {}), doc.get("by_certification", {})
    found = {
        "iv": robustness.get("baseline_iv"),
        "twfe": robustness.get("baseline_twfe"),
        "wald_did": doc.get("wald_did"),
        "winsorised": robustness.get("winsorised"),
        "no_quarter_end": robustness.get("no_quarter_end"),
        "branch_month_fe": robustness.get("branch_month_fe"),
        "certified": split.get("certified", {}).get("per_add"),
        "uncertified": split.get("uncertified", {}).get("per_add"),
    }[key]
    if found is None or found.get("ci_low") is None or found.get("ci_high") is None:
        return None
    return found


def _title(doc: dict) -> str:
    keys = ("iv", "wald_did", "winsorised", "no_quarter_end")
    rows = [r for r in (_row(doc, k) for k in keys) if r is not None]
    signs = {int(r["ci_low"] > 0) - int(r["ci_high"] < 0) for r in rows}
    if signs == {0}:
        return "No causal design detects an uplift per quota-induced add"
    if signs == {-1}:
        return "Every causal design finds quota-induced adds lower AUM"
    if signs == {1}:
        return "Every causal design finds quota-induced adds raise AUM"
    return "The causal designs disagree on the sign: read the per-design intervals"


def designs_forest(doc: dict, *, source: str, simulated: bool) -> Figure:
    """One row per design or check with its 95% interval, yuan of monthly AUM change per add.

    The causal rows (FE-2SLS and its checks, Wald-DiD) come first; the certified split and
    the TWFE associations follow. The leads test is noted under the chart.
    """
    rows = [(label, colour, r) for key, label, colour in _ROWS if (r := _row(doc, key))]
    estimator = {"imputation": "BJS imputation", "callaway_santanna": "Callaway–Sant'Anna"}
    rows = [
        (
            f"{label}\n({estimator.get(r.get('estimator'), r.get('estimator'))})"
            if label.startswith("Wald")
            else label,
            colour,
            r,
        )
        for label, colour, r in rows
    ]
    with theme_context():
        fig, (ax,) = print_figure(1, 0.5 * len(rows) + 0.9)
        for i, (_, colour, r) in enumerate(reversed(rows)):
            interval(ax, i, r["coef"], r["ci_low"], r["ci_high"], PALETTE[colour])
        zero_and_truth(ax, (doc.get("simulated_truth") or {}).get("beta_quota_cny_per_add"))
        ax.set_yticks(range(len(rows)), [label for label, _, _ in reversed(rows)])
        ax.set_ylim(-0.6, len(rows) - 0.3)
        ax.xaxis.set_major_formatter(signed)
        ax.set_xlabel(PER_ADD_AXIS)
        leads = doc.get("robustness", {}).get("leads")
        notes = []
        if leads:
            verdict = "passes" if leads["passes"] else "FAILS"
            notes.append(
                f"先行检验 Leads test {verdict}: next month's adds → this month's AUM "
                f"{leads['coef']:+,.0f} 元 [{leads['ci_low']:+,.0f}, {leads['ci_high']:+,.0f}]"
            )
        finish(fig, title=_title(doc), source=source, simulated=simulated, key=[ax], notes=notes)
    return fig
