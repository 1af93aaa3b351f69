"""The operations console: static HTML/JS/CSS served by the API at ``/console`` (no external code)."""
