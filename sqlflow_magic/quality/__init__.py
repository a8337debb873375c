"""Data quality: declared EXPECT rules and the automatic seven-category profile.

``rules`` checks the declared EXPECT rules inside a run's transaction. ``profile``
profiles the rows a run wrote, or a whole table, with no configuration
(``profile_relation``) and says what changed between two profiles
(``compare_profiles``); ``render.quality_view`` shows a profile as text, rich, HTML or
an ipywidgets view.
"""
