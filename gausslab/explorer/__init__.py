"""The gausslab explorer: a local Dash app with one page per visualization.

Start it with ``gausslab explore`` or ``gausslab.explorer.server.serve()``; every page
computes with gausslab itself, the explorer only draws.
"""
