"""The web console: static pages served by the producer at `/`, calling the same JSON API with the user's JWT."""
