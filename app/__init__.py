"""The roof: liuhen's front doors and wiring — the CLI, the web app that mounts the API and the
console, the demo, terminal progress, the table registry and migrations, and the runtime that
opens an archive. Nothing imports this package; it imports everything."""
