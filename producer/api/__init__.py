"""The producer's HTTP API (api.md): schedules, runs, dead letters."""
