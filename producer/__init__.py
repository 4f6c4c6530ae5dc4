"""The producer: scheduler loop and HTTP API."""
