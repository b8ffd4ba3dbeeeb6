"""Ranking metrics on DataFrames and the temporal evaluation tasks."""
