"""cwsync: sync a ConnectWise Manage tenant into a warehouse, and a sandbox to test it."""

__version__ = "0.1.0"
