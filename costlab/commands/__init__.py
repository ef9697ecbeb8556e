"""Command groups beyond the foundation (signals, report, whatif, replay). Each module exports
`register(app: typer.Typer) -> None`, which adds its commands; cli.py calls it. A module owns its
options and rendering calls; the work itself lives in the library modules it calls."""
