"""The customer-level uplift in sentences a reader sees: the note of ``customer_uplift.json``
(what a binding's effect is and is not, the onset, event month 0) and the finding the brief
prints, in Chinese and English. Money in yuan of AUM per bound customer."""

from __future__ import annotations

from wb.warehouse.imputation import Design

NOTE = (
    "A binding is the first time a customer is real-name certified on an RM's WeCom. Its "
    "effect is the customer's AUM after binding less the AUM imputed from the customer's own "
    "path before binding{trend} and from customers of the same branch not yet bound in the same "
    "month. A binding in a month when the RM had a quota in force (quota_month) mixes organic "
    "adds, which would have been made anyway, with adds the quota induced, in shares not seen "
    "customer by customer; its effect is a blend of the two. So the difference between the "
    "kinds is not the effect of a quota add alone: it also carries any difference between the "
    "customers, branches and months bound with and without a quota. It can show whether "
    "customers bound under a quota go on to hold more or less AUM than customers bound "
    "without one; it cannot price a quota-induced add by itself (if quota adds were worth "
    "nothing and a share s of quota-month bindings were quota-induced, quota_month would be "
    "about (1 - s) x no_quota), and it rests on bound and not-yet-bound customers of a branch "
    "following parallel paths{trend_again}; the pre-trend test checks the months just before "
    "binding. Only customers bound at least {min_gap} months after their first month with an "
    "RM enter (their path before binding must be fitted); where customers bound sooner differ "
    "(on the simulator they belong to RMs who add more and are re-bound more often), the "
    "estimate describes the later-bound customers only: there the average effect over all "
    "bound customers was 3-4% above the one over those the estimate can use."
)
#: What the note adds when the effect at event month 0 differs from the later months.
FIRST_MONTH = (
    " The window average counts event month 0, so it is not the level the effect reaches "
    "after binding: an effect that starts a month after the binding month (e.g. AUM recorded "
    "before the binding moves it; on a held-out simulated world with a +20,000 yuan shift "
    "recorded a month late the window averages were 5/6 of it, while the average over event "
    "months 1-5 covered it) or that grows (later bindings of the same customer) shows this way; "
    "read the event path and the later months' average."
)
#: The understatement (:func:`late_shortfall`) from which the finding states it.
LATE_SHARE_STATED = 0.01
#: The note's sentence on customers certified in a later month than their binding contact was
#: added, by onset (measured on the held-out worlds of tests/warehouse/heldout_worlds.py,
#: certification 0-10 days after the add, 8.4% of customers certified a month late).
LATE_CERTIFIED = {
    "certified": (
        " Event month 0 is the month of certification: {late:,} of the {used:,} bound "
        "customers used ({share:.1%}) were certified in a later month than their binding "
        "contact was added on WeCom. If AUM moves from the add rather than the certification, "
        "their effect falls in the held-out months before event month 0 (where the pre-trend "
        "test sees it) and the estimate falls short of the effect by about that share: on a "
        "held-out simulated world with 8.4% certified a month late, the estimates were 8.1% "
        "(no quota) and 8.4% (quota month) low, their intervals covering the truth in 77 and "
        "22 of 100 seeds (dated by the add, --onset added, 94 and 93)."
    ),
    "added": (
        " Event month 0 is the month the binding contact was added on WeCom: {late:,} of the "
        "{used:,} bound customers used ({share:.1%}) were certified in a later month. If AUM "
        "moves from the certification rather than the add, their effect starts after event "
        "month 0 and the estimate falls short of the effect by about that share divided by "
        "the {months} months averaged: on a held-out simulated world with 8.4% certified a "
        "month late, the estimates were 1.3% (no quota) and 1.8% (quota month) low, their "
        "intervals covering the truth in 95 and 88 of 100 seeds (dated by the certification, "
        "96 and 93)."
    ),
}


def first_month_gaps(first_month: dict) -> dict[str, dict]:
    """The kinds of a ``first_month`` block whose effect at event month 0 differs from its
    average over event months ``1..post`` (the difference's 95% interval excludes 0)."""
    out = {}
    for kind, block in first_month.items():
        gap = (block or {}).get("difference") or {}
        if gap.get("ci_low") is not None and (gap["ci_low"] > 0 or gap["ci_high"] < 0):
            out[kind] = block
    return out


def first_month_note(first_month: dict) -> str:
    """The note's sentences on kinds whose effect at event month 0 differs from the later
    months (:func:`first_month_gaps`)."""
    parts = []
    for kind, b in first_month_gaps(first_month).items():
        zero, later, gap = b["event_month_0"], b["later"], b["difference"]
        first, last = later["event_months"]
        parts.append(
            f" {kind}: the effect at event month 0 ({zero['coef']:+,.0f} yuan) is "
            f"{'below' if gap['coef'] < 0 else 'above'} its average over event months "
            f"{first}-{last} ({later['coef']:+,.0f}, 95% CI {later['ci_low']:+,.0f} to "
            f"{later['ci_high']:+,.0f}; difference {gap['coef']:+,.0f}, "
            f"{gap['ci_low']:+,.0f} to {gap['ci_high']:+,.0f})."
        )
    if not parts:
        return ""
    return "".join(parts) + FIRST_MONTH


def late_certified(counts: dict, design: Design) -> str:
    """The note's sentence on the bound customers certified in a later month than their
    binding contact was added (``counts`` as in ``customer_uplift.json``'s ``n``)."""
    used = counts.get("bound_used", 0)
    late = counts.get("bound_used_added_in_an_earlier_month")
    if not used or late is None:
        return ""
    if late == 0:
        return (
            f" Every bound customer used was certified in the month its binding contact was "
            f"added, so the onset (--onset {design.onset}) does not matter here."
        )
    text = LATE_CERTIFIED[design.onset]
    return text.format(late=late, used=used, share=late / used, months=design.post + 1)


def late_shortfall(doc: dict) -> float | None:
    """How much the window averages of a ``customer_uplift.json`` document may understate the
    effect (a share) when AUM moves from the other onset than the one that dates bindings:
    the share of bound customers certified in a later month than added, divided by the months
    averaged when bindings are dated by the add; ``None`` when the count is absent."""
    used = doc["n"].get("bound_used", 0)
    late = doc["n"].get("bound_used_added_in_an_earlier_month")
    if not used or late is None:
        return None
    share = late / used
    if doc["design"].get("onset", "certified") == "added":
        return share / (doc["design"]["post"] + 1)
    return share


def _yuan_ci(est: dict, to: str) -> tuple[str, str]:
    """An estimate in yuan as ``+30,408`` and its interval as ``+27,878 <to> +32,939``."""
    if est["coef"] is None:
        return "n/a", "n/a"
    if est["ci_low"] is None:
        return f"{est['coef']:+,.0f}", "n/a"
    return f"{est['coef']:+,.0f}", f"{est['ci_low']:+,.0f} {to} {est['ci_high']:+,.0f}"


def finding(doc: dict) -> tuple[str, str]:
    """The customer-level finding of a ``customer_uplift.json`` document, in Chinese and in
    English: the AUM change per bound customer (yuan, 95% CI) after a binding in a month
    without a quota and in a quota month, and why their gap is not a quota add's value."""
    post = doc["design"]["post"]
    free, quota = doc["att_by_kind"]["no_quota"], doc["att_by_kind"]["quota_month"]
    (f_zh, fci_zh), (q_zh, qci_zh) = _yuan_ci(free, "至"), _yuan_ci(quota, "至")
    (f_en, fci_en), (q_en, qci_en) = _yuan_ci(free, "to"), _yuan_ci(quota, "to")
    zh = (
        f"客户层面：无配额月份绑定的客户，绑定后第0–{post}个月平均每位客户 AUM 变化 {f_zh} 元"
        f"（95% 置信区间 {fci_zh} 元）；配额月份绑定的客户为 {q_zh} 元（{qci_zh} 元）。"
        "配额月份的绑定混合了本来就会发生的自然新增和配额促成的新增，两者之差不是一个配额新增"
        "本身的价值。"
    )
    en = (
        f"At customer level, a customer bound in a month without a quota holds {f_en} yuan "
        f"of AUM over months 0–{post} after binding (95% CI {fci_en}), one bound in a quota "
        f"month {q_en} yuan ({qci_en}), per bound customer. A quota-month binding mixes "
        "organic adds, which would have happened anyway, with quota-induced ones, so the gap "
        "between the two is not the value of a quota-induced add."
    )
    gaps = first_month_gaps(doc.get("first_month") or {})
    for kind, b in gaps.items():
        zero, later = b["event_month_0"]["coef"], b["later"]
        low, high = later["ci_low"], later["ci_high"]
        name_zh = "无配额月份" if kind == "no_quota" else "配额月份"
        name_en = "without a quota" if kind == "no_quota" else "in a quota month"
        zh += (
            f"{name_zh}绑定的客户在绑定当月的效应（{zero:+,.0f} 元）与第1–{post}个月的平均"
            f"（{later['coef']:+,.0f} 元，{low:+,.0f} 至 {high:+,.0f}）不同，上述平均包含绑定当月。"
        )
        en += (
            f" For customers bound {name_en}, the effect in the binding month ({zero:+,.0f}) "
            f"differs from its average over months 1–{post} ({later['coef']:+,.0f}, 95% CI "
            f"{low:+,.0f} to {high:+,.0f}); the average above includes the binding month."
        )
    short = late_shortfall(doc)
    if short is not None and short >= LATE_SHARE_STATED:
        added = doc["design"].get("onset") == "added"
        moves_zh, moves_en = ("实名认证", "the certification") if added else ("添加", "the add")
        zh += (
            f"若 AUM 从{moves_zh}时起变化（部分客户在添加企业微信后的下一个月或更晚才完成实名"
            f"认证），上述估计约低估 {short:.0%}。"
        )
        en += (
            f" If AUM moves from {moves_en} (some customers were certified in a later month than "
            f"they were added on WeCom), these estimates understate the effect by about "
            f"{short:.0%}."
        )
    return zh, en
