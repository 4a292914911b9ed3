"""Self-contained reports of an export scored with an instrument (``peerscale report``).

:func:`~peerscale.report.build.build_report` scores the data and collects every number the
report shows (a :class:`~peerscale.report.build.Report`); :func:`~peerscale.report.html.render_html`
turns it into one HTML page with inline SVG charts, and
:func:`~peerscale.report.markdown.write_markdown` into Markdown with PNG figures beside it.

>>> from peerscale.report.build import build_report            # doctest: +SKIP
>>> from peerscale.report.html import render_html
>>> rep = build_report(df, "pbr-y", validate=True)
>>> Path("report.html").write_text(render_html(rep), encoding="utf-8")
"""
