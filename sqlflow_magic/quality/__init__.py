"""Data quality: declared EXPECT rules and the automatic seven-category profile."""
