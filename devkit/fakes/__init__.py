"""Local stand-ins for Loops and the Telegram Bot API that follow delivery.md, for tests and the demo.

They check auth and bodies, answer with the providers' error shapes (429 with retry_after, 413 as HTML),
can be scripted to fail, and record what they received."""
