"""``python -m unspin``: the command-line interface."""

from unspin.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
