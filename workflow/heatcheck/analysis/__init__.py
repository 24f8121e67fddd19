"""Analyses of score tables: how far the metrics can be trusted (issue 6 groundwork)."""
