"""The report directory (docs/report-format.md): its models, its one reader and one writer.

Usage::

    import dissect_report as dr
    report = dr.open_report("report")          # dissect_report.reportdir.report.open_report
    report.units("layer3").head()

Modules: :mod:`.schema` (typed manifest, table columns, migrations), :mod:`.atomic` (atomic
file writes), :mod:`.read` (the reader), :mod:`.write` (the dissection's writer, manifest
last), :mod:`.records` (the site's typed records), :mod:`.report` (the pandas API).
"""
