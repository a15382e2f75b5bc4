"""Prediction and comparison: early failure risk, cost before a task runs, experiments between variants.

Owns the learned models (scikit-learn, small, trained in seconds) and the statistics of comparisons:
:mod:`.features` (what an open session has shown so far, one accumulator for training and live),
:mod:`.risk` (the calibrated failure-risk model and its reasons in words), :mod:`.live` (scoring open
sessions as new events arrive, for the live detector job), :mod:`.cost` (a cost forecast with a
conformal interval), :mod:`.experiments` (variants compared with confidence intervals and a sentence),
:mod:`.external` (the models judged on imported real sessions with known outcomes, with bootstrap
intervals), :mod:`.store` (versioned model files). Imports ``core`` only; never Dagster;
``orchestration`` and the assets call it, and the detector job turns its findings into alerts.
"""
