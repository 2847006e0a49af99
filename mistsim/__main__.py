"""`python -m mistsim`: run the simulator in the foreground."""

from mistsim.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
