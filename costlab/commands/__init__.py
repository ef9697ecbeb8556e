"""Command groups beyond the foundation (sources, signals, report, whatif, replay). Each module exports
`register(app: typer.Typer) -> None`, which adds its commands; cli.py calls it. A module owns its
options and rendering calls; the work itself lives in the library modules it calls."""

# The modules here take shared options and helpers from costlab.cli, and costlab.cli registers them
# at import. Importing costlab.cli first, whichever side a program (or a test) imports first, means
# those helpers are always defined before a command module asks for them.
import costlab.cli  # noqa: E402,F401  (import order matters; see above)
