"""The bottom layer: settings and the database. Imports nothing else of the project."""
