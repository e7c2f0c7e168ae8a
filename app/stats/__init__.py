"""Gap analysis: QPV vs hors-QPV indicators with intervals, tests and suppression (no web)."""
