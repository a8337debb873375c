"""State tables (schema ``sqlflow``): transforms, watermarks and runs, beside the data."""
