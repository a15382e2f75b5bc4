"""Warnings Dagster raises about features we use on purpose, silenced before our definitions load.

``owners`` on sensors, automation-condition sensors and ``backfill_policy`` on assets are beta in
Dagster 1.13: it warns in every process that builds our definitions (the code server, each run) —
dozens of identical lines in the terminal of ``agent-pipelines ui``. Importing this module first
filters exactly those categories; any other warning still shows.
"""

from __future__ import annotations

import warnings

import dagster as dg

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
