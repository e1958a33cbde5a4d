"""The page template: Dash's index with the explorer's small stylesheet inlined.

Inlining keeps the explorer a pure-Python package (no asset files to ship).
"""

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       color: #1d2330; background: #fafbfc; }
.header { background: #1d2330; padding: 10px 20px; }
.header nav { display: flex; flex-wrap: wrap; gap: 18px; align-items: baseline; }
.header a { color: #dfe6f1; text-decoration: none; font-size: 14px; }
.header a.brand { color: #fff; font-weight: 600; font-size: 16px; margin-right: 10px; }
.header a:hover { text-decoration: underline; }
.page { max-width: 1180px; margin: 0 auto; padding: 6px 20px 20px; }
.page h2 { margin: 10px 0 4px; }
.intro { margin: 0 0 10px; color: #465066; max-width: 900px; }
.page-grid { display: grid; grid-template-columns: 300px 1fr; gap: 18px; }
.controls { background: #fff; border: 1px solid #e3e7ee; border-radius: 6px; padding: 10px 12px; }
.control { margin-bottom: 10px; }
.control-label { display: block; font-size: 13px; font-weight: 600; margin-bottom: 2px; }
.control-row { display: flex; align-items: center; gap: 6px; }
.control-slider { flex: 1; min-width: 0; }
.control-text { width: 64px; font-size: 13px; padding: 2px 4px; }
.control-wide-text { width: 100%; box-sizing: border-box; font-size: 13px; padding: 3px 5px; }
.control-choice label { margin-right: 10px; font-size: 13px; }
.body { min-width: 0; }
.readouts { display: flex; flex-wrap: wrap; gap: 8px 22px; margin: 6px 0; font-size: 14px; }
.readout { display: flex; align-items: baseline; gap: 6px; }
.readout-label { color: #465066; }
.readout-label p, .intro p { margin: 0; }
.intro p + p { margin-top: 6px; }
.readout-value { font-variant-numeric: tabular-nums; }
.equation { overflow-x: auto; }
.graph-row { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
.alert { background: #fdecea; color: #8a1c12; border: 1px solid #f5c2bd; border-radius: 4px;
         padding: 6px 10px; margin: 6px 0; font-size: 14px; }
.page-list { list-style: none; padding: 0; }
.page-list li { margin: 10px 0; }
.page-list a { font-weight: 600; font-size: 17px; }
.presets { display: flex; flex-direction: column; gap: 6px; margin: 8px 0; }
.preset { text-align: left; padding: 5px 8px; border: 1px solid #c9d1de; border-radius: 4px;
          background: #f3f6fa; cursor: pointer; font-size: 13px; }
.preset:hover { background: #e6edf6; }
.group-title { margin: 6px 0 4px; font-size: 14px; color: #1d2330; }
"""

INDEX_STRING = (
    """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
        <style>"""
    + CSS
    + """</style>
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>"""
)
