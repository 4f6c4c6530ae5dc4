"""Numbered plain-SQL migrations, applied by shared.migrate."""
