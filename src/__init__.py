"""db-scheduler: scheduled SQL reports."""

#: The release, as in pyproject.toml (tests/test_version.py keeps the two equal); files we
#: write name it (PDF author and creator).
__version__ = "0.1.0"
