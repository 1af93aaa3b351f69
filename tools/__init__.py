"""Repository tools (not installed with the package): model converters. Run from the repository root,
e.g. ``.venv/bin/python -m tools.convert_nanodet``."""
