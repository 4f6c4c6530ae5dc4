"""Local stand-ins for the providers the tests and the demo cannot reach, following delivery.md: Loops
(`loops.py`), the Telegram Bot API (`telegram.py`), the Slack Web API (`slack.py`), a webhook receiver
(`webhook.py`) and an SFTP server (`sftp.py`).

They check auth and bodies, answer with the providers' own success and error shapes (429 with retry_after,
413 as HTML), can be scripted to fail, and record what they received."""
