"""Self-contained reports of an export scored with an instrument (``peerscale report``).

:func:`~peerscale.report.build.build_report` scores a :class:`~peerscale.responses.Responses`
and collects every number the report shows (a :class:`~peerscale.report.build.Report`, with
``to_dict()`` for ``-o report.json``); :func:`~peerscale.report.html.render_html` (``Report.to_html()``)
turns it into one HTML page with inline SVG charts, and
:func:`~peerscale.report.markdown.write_markdown` into Markdown with PNG figures beside it.

>>> import peerscale                                              # doctest: +SKIP
>>> rep = peerscale.read("export.csv", "pbr-y").report(validate=True)
>>> Path("report.html").write_text(rep.to_html(), encoding="utf-8")
"""
