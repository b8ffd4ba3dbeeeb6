"""Server-rendered web pages for people: a third thin adapter over the same Corridor as the API and the CLI."""
