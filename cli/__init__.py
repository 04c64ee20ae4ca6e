"""The ``unfreeze`` command line: thin commands over unfreeze_core."""
