"""The demo: the whole service on one machine, against embedded servers and local provider fakes."""
