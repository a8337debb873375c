"""Parsing: a cell's text into statements, and transform headers into TransformSpecs."""
