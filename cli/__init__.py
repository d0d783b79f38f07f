"""The `newsnlp` command line and the Python client it is built on."""
