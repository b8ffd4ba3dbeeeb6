"""Route modules: each route parses input, calls one core function and formats the result."""
