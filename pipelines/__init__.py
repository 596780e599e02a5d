"""Pipelines and the ``cwsync`` command line."""
