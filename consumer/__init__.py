"""The consumer: arq worker that exports reports and delivers them."""
