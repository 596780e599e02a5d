"""``python -m cwsync`` is the ``cwsync`` command."""

from pipelines.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
