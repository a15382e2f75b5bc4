"""The early failure-risk model: a calibrated probability that an open attempt will not succeed,
with its top reasons in words.

Why logistic regression: the data is a few thousand finished attempts of a few dozen features; a
linear model on standardized counts and one-hot categories trains in well under a second, is
calibrated by Platt scaling on a third of the attempts it was not fitted on (``CalibratedClassifierCV``
over the frozen fit, sigmoid) and explains itself: a
feature's contribution is its coefficient times its distance from the training mean, which reads
as "3 errors of category environment (usual 0.1)". Trained on snapshots of finished attempts at
several cutoffs (:data:`~.features.TRAIN_EVENT_CUTOFFS`, :data:`~.features.TRAIN_MINUTE_CUTOFFS`),
so one model scores a prefix of any length; the elapsed minutes and events are features.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from agent_pipelines.predict.features import (
    CATEGORICAL,
    NUMERIC,
    TRAIN_EVENT_CUTOFFS,
    TRAIN_MINUTE_CUTOFFS,
    Cutoff,
    outcomes,
    snapshots,
)

MIN_TRAINING_ATTEMPTS = 40  # fewer finished attempts (or only one outcome): no model
TOP_REASONS = 3
LABELS = {
    "minutes": "minutes in",
    "events": "events so far",
    "tool_calls": "tool calls",
    "tool_failures": "failed tool calls",
    "tool_fail_share": "share of tool calls failing",
    "distinct_tools": "different tools used",
    "top_tool_share": "share of the most used tool",
    "repeat_calls": "identical calls repeated",
    "bash_share": "share of Bash calls",
    "edit_share": "share of edits",
    "errors": "errors",
    "distinct_errors": "different errors",
    "errors_per_minute": "errors per minute",
    "errors_other": "errors of other categories",
    "followups": "follow-ups",
    "restarts": "restarts",
    "is_retry": "a retry of a failed attempt",
    "description_words": "words in the task description",
}


def training_cutoffs() -> list[Cutoff]:
    return [Cutoff(events=n) for n in TRAIN_EVENT_CUTOFFS] + [Cutoff(minutes=m) for m in TRAIN_MINUTE_CUTOFFS]


def labelled_snapshots(events: pl.DataFrame | pl.LazyFrame, cutoffs: list[Cutoff]) -> pl.DataFrame:
    """Snapshots of finished attempts at ``cutoffs``, with ``failed`` and ``ended_at``."""
    snaps = snapshots(events, cutoffs)
    if snaps.is_empty():
        return snaps
    return snaps.join(outcomes(events).select("attempt_id", "failed", "ended_at"), on="attempt_id")


def _pipeline(model: Any) -> Pipeline:
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), list(NUMERIC)),
            ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=5), list(CATEGORICAL)),
        ]
    )
    return Pipeline([("prep", prep), ("model", model)])


@dataclass
class RiskModel:
    """The fitted model, its explainer, what it was trained on and how it did on held-out data."""

    calibrated: CalibratedClassifierCV
    explainer: Pipeline
    means: dict[str, float]
    center: np.ndarray  # the training mean of every transformed column: what a contribution is measured from
    base_rate: float
    trained_on: int
    evaluation: dict[str, Any] = field(default_factory=dict)
    version: str = ""

    def score(self, frame: pl.DataFrame) -> np.ndarray:
        """P(failure) per row of a features frame."""
        return np.asarray(self.calibrated.predict_proba(to_table(frame))[:, 1])

    def reasons(self, row: dict[str, Any], top: int = TOP_REASONS) -> list[str]:
        """The features that push this row's risk up most, in words (largest contribution first)."""
        prep: ColumnTransformer = self.explainer.named_steps["prep"]
        coef = self.explainer.named_steps["model"].coef_[0]
        x = prep.transform(to_table(pl.DataFrame([row])))
        x = x.toarray()[0] if hasattr(x, "toarray") else np.asarray(x)[0]
        names = prep.get_feature_names_out()
        contributions = coef * (x - self.center)
        order = np.argsort(-contributions)
        out: list[str] = []
        for i in order:
            if contributions[i] <= 0 or len(out) >= top:
                break
            text = describe_feature(str(names[i]), row, self.means)
            if text and text not in out:
                out.append(text)
        return out


def to_table(frame: pl.DataFrame) -> Any:
    """The feature columns, typed, as the polars frame the pipeline takes (scikit-learn selects
    a polars frame's columns by name)."""
    return frame.select([*NUMERIC, *CATEGORICAL]).with_columns(
        [pl.col(c).cast(pl.Float64) for c in NUMERIC] + [pl.col(c).cast(pl.String) for c in CATEGORICAL]
    )


def describe_feature(name: str, row: dict[str, Any], means: dict[str, float]) -> str:
    """A feature of the transformed space in words: ``num__errors`` → "4 errors (usual 0.6)"."""
    kind, _, column = name.partition("__")
    if kind == "num":
        value = row.get(column, 0)
        label = LABELS.get(column) or column.replace("errors_", "errors of category ").replace("_", " ")
        if column == "is_retry":
            return label if value else ""
        shown = f"{value:.2f}" if isinstance(value, float) and not float(value).is_integer() else f"{value:g}"
        return f"{shown} {label} (usual {means.get(column, 0.0):.2g})"
    for cat in CATEGORICAL:
        if column.startswith(cat + "_"):
            value = column[len(cat) + 1 :]
            return f"{cat.replace('_', ' ')} is {value}" if value != "infrequent_sklearn" else ""
    return column


def train(
    events: pl.DataFrame | pl.LazyFrame | None, *, snaps: pl.DataFrame | None = None
) -> RiskModel | None:
    """Fit on every finished attempt's snapshots (``snaps`` if already made); ``None`` if too few."""
    if snaps is None:
        if events is None:
            return None
        snaps = labelled_snapshots(events, training_cutoffs())
    data = snaps
    if (
        data.is_empty()
        or data["attempt_id"].n_unique() < MIN_TRAINING_ATTEMPTS
        or data["failed"].n_unique() < 2
    ):
        return None
    # a third of the attempts (by a hash of the id, so an attempt's snapshots stay together) calibrates
    held = (data["attempt_id"].hash(seed=7) % 3 == 0).to_numpy()
    fit, cal = data.filter(~held), data.filter(held)
    if fit["failed"].n_unique() < 2 or cal["failed"].n_unique() < 2:
        return None
    with threadpool_limits(1):  # BLAS threads fighting over a shared machine's cores cost several times
        explainer = _pipeline(LogisticRegression(C=0.5, max_iter=300)).fit(
            to_table(fit), fit["failed"].to_numpy()
        )
        calibrated = CalibratedClassifierCV(FrozenEstimator(explainer), method="sigmoid")
        calibrated.fit(to_table(cal), cal["failed"].to_numpy())
    x, y = to_table(data), data["failed"].to_numpy()
    means = {c: float(data[c].cast(pl.Float64).fill_null(0.0).to_numpy().mean()) for c in NUMERIC}
    transformed = explainer.named_steps["prep"].transform(x)
    center = np.asarray(transformed.mean(axis=0)).ravel()
    return RiskModel(calibrated, explainer, means, center, float(y.mean()), data["attempt_id"].n_unique())


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    """ROC-AUC (None when only one outcome is present) and Brier score."""
    auc = float(roc_auc_score(y, p)) if len(set(y.tolist())) == 2 else None
    return {
        "roc_auc": auc,
        "brier": float(brier_score_loss(y, p)),
        "n": len(y),
        "failure_rate": float(y.mean()),
    }
