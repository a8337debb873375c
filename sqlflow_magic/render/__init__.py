"""Showing results: DataFrames in notebooks, rich tables in terminals, text everywhere."""
