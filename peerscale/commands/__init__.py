"""CLI subcommands, one module per command family, loaded lazily by :mod:`peerscale.cli`."""
