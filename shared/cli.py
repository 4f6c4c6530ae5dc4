"""The old name of shared/entry.py, kept while consumer/__main__.py still imports it from here."""

from shared.entry import Command, run_command

__all__ = ["Command", "run_command"]
