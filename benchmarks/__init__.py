"""gausslab benchmarks: side-by-side timings against torch.distributions, scipy and diffusers.

Run them with ``gausslab bench [core|algebra|diffusion|all]`` from a source checkout; see
``benchmarks/runner.py`` for the report and ``benchmarks/RESULTS.md`` for measured numbers.
"""
