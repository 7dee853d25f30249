"""Inference both wings share (the floor under :mod:`wb.uplift` and :mod:`wb.warehouse`).

Pure numpy and scipy; imports nothing from ``wb`` but :mod:`wb.errors`. One home for each rule:

* :mod:`wb.stats.cluster`: the cluster-robust (CRV1) sandwich with fixest's small-sample
  factor, its influence-function twin with ``G/(G−1)``, the influence function of a ratio
  (delta method: IV-WAS, FE-2SLS, the Wald-DiD), the one t quantile (Student t with
  ``G − 1`` degrees of freedom) and the one joint pre-trend (Wald, F) test;
* :mod:`wb.stats.honest`: how much a violation of parallel trends could move an event-study
  average (Rambachan–Roth relative-magnitude and smoothness bounds, breakdown values) and the
  power of the joint pre-trend test against a linear trend (Roth 2022);
* :mod:`wb.stats.wild`: the wild cluster restricted bootstrap (WCR; Webb six-point weights
  with few clusters) for one coefficient, with its p-value and a confidence set by test
  inversion, for the verdicts that few clusters would otherwise make confidently wrong.
"""
