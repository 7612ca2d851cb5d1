"""`python -m facefill` runs the command-line interface."""

from facefill.cli import main

if __name__ == "__main__":
    main()
