"""Offline SQL over the emulated lake (`tricloud query aws`): the Glue catalog, Athena-dialect SQL on DuckDB."""
