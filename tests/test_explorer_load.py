"""The explorer under load: 1,000 requests, 8 at a time, valid and hostile, over real HTTP.

The app (``create_app()``) is served by its own threaded WSGI server
(``gausslab.explorer.server.background_server``) on 127.0.0.1 and a free port; only loopback
traffic. The requests mix valid page updates with malformed values (wrong types, huge
numbers, NaN, very long strings, nested garbage: the page callback must answer 200 with an
alert naming the control), hostile page routes ("Infinity", "..", a NUL, a foreign URL:
200 with the not-found page) and structurally invalid bodies (missing fields, unknown
outputs, outputs or inputs naming other components than the callback declares, the
browser-side callback, garbage, not JSON, nesting deeper than the JSON parser's limit: the
guard must answer 400). Checked: no 5xx at all, every answer as its kind requires, resident memory
grows by less than 200 MB, and a valid request afterwards is answered (its latency is
printed; the only time limit is a generous per-request timeout that detects a hang).
"""

from __future__ import annotations

import inspect
import json
import random
import re
import statistics
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from gausslab.explorer import server

REQUESTS = 1_000
CONCURRENCY = 8
REQUEST_TIMEOUT_S = 60.0  # a hang detector, not a performance requirement
RSS_GROWTH_LIMIT_MB = 200.0
ENDPOINT = "_dash-update-component"
# the key of the browser-side callback that keeps sliders and text boxes in sync
CLIENTSIDE_OUTPUT = (
    '..{"ctl":["MATCH"],"role":"slider"}.value...{"ctl":["MATCH"],"role":"text"}.value..'
)


@dataclass(frozen=True)
class Probe:
    """One request: its body (JSON-able, or raw bytes) and what the answer must be."""

    kind: str  # "valid" | "bad-value" | "route" | "structural"
    body: Any
    alert: str | None = None  # regex the alert must match ("bad-value" only)


@dataclass(frozen=True)
class Answer:
    kind: str
    status: int
    alert: str
    expected_alert: str | None
    seconds: float
    text: str  # the answer's body, cut to 2,000 characters


def _rss_mb() -> float:
    """Resident set size of this process (which runs the server threads), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS line in /proc/self/status")


def _alert_text(payload: dict[str, Any]) -> str:
    for prop in payload.get("response", {}).values():
        children = prop.get("children")
        if isinstance(children, dict) and children.get("props", {}).get("role") == "alert":
            return str(children["props"]["children"])
    return ""


def _post(url: str, body: Any) -> tuple[int, bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        url + ENDPOINT, data=data, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _send(url: str, probe: Probe) -> Answer:
    start = time.perf_counter()
    status, raw = _post(url, probe.body)
    seconds = time.perf_counter() - start
    alert = ""
    if status == 200:
        alert = _alert_text(json.loads(raw))
    text = raw[:2000].decode("utf-8", "replace")
    return Answer(probe.kind, status, alert, probe.alert, seconds, text)


def _probes(build: Any, rng: random.Random) -> list[Probe]:
    """REQUESTS probes: about half valid updates, a third malformed values, the rest
    structurally invalid bodies, in a seeded random order."""
    valid_makers = [
        lambda: build(
            "uni-graph",
            {"uni-mu": round(rng.uniform(-5, 5), 2), "uni-sigma": round(rng.uniform(0.2, 4), 2)},
        ),
        lambda: build("cont-graph", {"cont-rho": round(rng.uniform(-0.9, 0.9), 2)}),
        lambda: build("cond-graph", {"cond-x2": round(rng.uniform(-3, 3), 2)}),
        lambda: build("div-graph", {"div-q-mu1": round(rng.uniform(-2, 2), 2)}),
        lambda: build("clt-graph", {"clt-n": rng.randint(1, 20)}),
        lambda: build(
            "maxent-graph",
            {
                "maxent-variance": round(rng.uniform(0.1, 4), 2),
                "maxent-student_t": round(rng.uniform(2.1, 30), 2),
            },
        ),
        lambda: build("brown-paths", {"brown-t": round(rng.uniform(0.01, 1), 2)}),
        lambda: build("brown-forward", {"brown-diffusion-t": rng.randint(1, 100)}),
    ]
    long_text = "9" * 50_000
    bad_values = [
        ({"uni-mu": "x" * 100_000}, r"μ must be a number"),
        ({"uni-mu": long_text}, r"μ must be a finite number"),
        ({"uni-mu": float("nan")}, r"μ must be a finite number"),
        ({"uni-sigma": float("inf")}, r"σ must be a finite number"),
        ({"uni-sigma": "1e400"}, r"σ must be a finite number"),
        ({"uni-sigma": -1e300}, r"std must be strictly positive"),
        ({"uni-sigma": 0}, r"std must be strictly positive"),
        ({"uni-mu": [[[[[[1]]]]]]}, r"μ must be a number"),
        ({"uni-mu": {"$gt": "", "nested": [None, {"a": []}]}}, r"μ must be a number"),
        ({"uni-mu": True}, r"μ must be a number, got True"),
        ({"uni-view": "<script>alert(1)</script>"}, r"view must be 'density' or 'log'"),
    ]
    bad_makers = [
        lambda values=values, alert=alert: (build("uni-graph", values), alert)
        for values, alert in bad_values
    ]
    bad_makers += [
        lambda: (build("clt-graph", {"clt-n": 10**12}), r"n must be at most"),
        lambda: (
            build("cond-graph", {"cond-rho": 7}),
            r"Correlation ρ must lie strictly between -1 and 1",
        ),
        lambda: (build("div-graph", {"div-p-var1": -3}), r"Variance σ₁² must be positive, got -3"),
        lambda: (build("maxent-graph", {"maxent-student_t": 1.5}), r"nu .* must lie in \(2, inf\)"),
        lambda: (
            build("maxent-graph", {"maxent-mixture": [1]}),
            r"separation δ .* must be a number",
        ),
        lambda: (
            build("maxent-graph", {"maxent-variance": "1e400"}),
            r"variance σ² must be a finite",
        ),
        lambda: (build("brown-paths", {"brown-n": 10**9}), r"steps must be between 1 and 500"),
        lambda: (build("brown-paths", {"brown-steps": {"$ne": 1}}), r"step law must be one of"),
        lambda: (build("brown-forward", {"brown-diffusion-t": -1}), r"diffusion step t must be"),
    ]

    routes = ["Infinity", "-Infinity", "NaN", "..", "http://x/y", "\x00", "/" * 3000, "%zz", ""]
    route_makers = [lambda route=route: build("page-content", {"url": route}) for route in routes]
    route_makers += [lambda: build("page-content", {"url": rng.choice([None, 7, [], {"a": 1}])})]

    def with_prop(body: dict[str, Any], key: str, index: int, **change: Any) -> dict[str, Any]:
        items = [dict(item) for item in body[key]]
        items[index].update(change)
        return {**body, key: items}

    def structural(body: dict[str, Any]) -> list[Any]:
        return [
            # outputs / inputs naming other components than the callback declares
            with_prop(body, "outputs", 0, id="uni-mu"),
            with_prop(body, "outputs", 1, id={"ctl": "uni-mu", "role": "text"}),
            with_prop(body, "outputs", 4, property="figure"),
            with_prop(body, "outputs", 2, id="page-content"),
            with_prop(body, "inputs", 0, id="uni-mu"),
            with_prop(body, "inputs", 2, id={"ctl": ["MATCH"], "role": "text"}),
            {**body, "output": CLIENTSIDE_OUTPUT},
            [body],
            "not an object",
            b"{not json",
            b"[" * 200_000 + b"]" * 200_000,
            {**body, "output": "nosuch.children"},
            {**body, "output": ["uni-graph.figure"]},
            {k: v for k, v in body.items() if k != "inputs"},
            {k: v for k, v in body.items() if k != "outputs"},
            {**body, "inputs": body["inputs"][:1]},
            {**body, "inputs": [{"id": {"deep": [[[]]]}}] * 3},
            {**body, "outputs": "x" * 100_000},
            {**body, "changedPropIds": [None, 1.5]},
            {**body, "state": "garbage"},
        ]

    structural_bodies = structural(build("uni-graph", {}))
    probes = []
    for i in range(REQUESTS):
        roll = rng.random()
        if roll < 0.45:
            probes.append(Probe("valid", rng.choice(valid_makers)()))
        elif roll < 0.55:
            probes.append(Probe("route", rng.choice(route_makers)()))
        elif roll < 0.8:
            maker = bad_makers[i % len(bad_makers)]
            body, alert = maker()
            probes.append(Probe("bad-value", body, alert))
        else:
            probes.append(Probe("structural", structural_bodies[i % len(structural_bodies)]))
    return probes


@pytest.fixture(scope="module")
def served_explorer(explorer_app: Any):
    """The session's explorer app behind its own threaded WSGI server on a free port."""
    threads = torch.get_num_threads()
    with server.background_server(explorer_app) as url:
        assert url.startswith("http://127.0.0.1:")
        yield url
    torch.set_num_threads(threads)


def test_explorer_survives_1000_mixed_requests(served_explorer: str, callback_body: Any):
    """1,000 requests, 8 concurrent: no 5xx; valid updates -> 200 with the alert cleared;
    malformed values -> 200 with an alert that names the control (never "Internal error");
    malformed bodies -> 400; RSS grows < 200 MB; a valid request afterwards is answered."""
    url = served_explorer
    rng = random.Random(20240917)
    probes = _probes(callback_body, rng)
    for probe in probes[:10]:  # warm-up: imports, caches and first figures
        _send(url, probe)
    rss_before = _rss_mb()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        answers = list(pool.map(lambda p: _send(url, p), probes))
    elapsed = time.perf_counter() - started
    rss_after = _rss_mb()

    statuses = Counter(a.status for a in answers)
    failures = []
    for answer in answers:
        if answer.status >= 500:
            failures.append(f"{answer.kind}: status {answer.status}")
        elif answer.kind == "valid" and (answer.status != 200 or answer.alert):
            failures.append(f"valid update answered {answer.status} {answer.alert[:200]!r}")
        elif answer.kind == "bad-value" and not (
            answer.status == 200
            and re.search(answer.expected_alert, answer.alert)
            and "Internal error" not in answer.alert
        ):
            failures.append(
                f"bad value answered {answer.status} {answer.alert[:200]!r}, "
                f"expected /{answer.expected_alert}/"
            )
        elif answer.kind == "route" and not (
            answer.status == 200 and "page-content" in answer.text
        ):
            failures.append(f"route answered {answer.status} {answer.text[:200]!r}")
        elif answer.kind == "structural" and not (
            answer.status == 400
            and "malformed callback request" in answer.text
            and "Dash refused" not in answer.text
        ):  # refused by the guard itself, not by its last line of defence
            failures.append(f"malformed body answered {answer.status} {answer.text[:200]!r}")

    latencies = sorted(a.seconds for a in answers)
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    after_start = time.perf_counter()
    status, raw = _post(url, callback_body("uni-graph", {"uni-mu": 1.0}))
    after_latency = time.perf_counter() - after_start
    kinds = Counter(a.kind for a in answers)
    print(
        f"\n[explorer load] {len(answers)} requests ({dict(kinds)}), concurrency "
        f"{CONCURRENCY}, {elapsed:.1f} s; statuses {dict(statuses)}; "
        f"5xx {sum(n for s, n in statuses.items() if s >= 500)}; "
        f"p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms; "
        f"RSS {rss_before:.0f} -> {rss_after:.0f} MB (+{rss_after - rss_before:.1f}); "
        f"valid request afterwards {after_latency * 1000:.1f} ms"
    )
    assert not failures, f"{len(failures)} wrong answers, e.g. {failures[:5]}"
    assert len(answers) == REQUESTS
    assert rss_after - rss_before < RSS_GROWTH_LIMIT_MB
    assert status == 200 and _alert_text(json.loads(raw)) == ""


def test_serve_binds_loopback_by_default_and_never_debugs(monkeypatch):
    """serve() (and `gausslab explore`) default to 127.0.0.1; serve never calls Dash.run or
    Flask.run (the only ways into debug mode), binds through _bind with the host it got,
    and opens no browser when told not to. Inspected with a fake server: nothing listens."""
    from dash import Dash
    from flask import Flask

    from gausslab import cli

    assert inspect.signature(server.serve).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(cli.explore).parameters["host"].default == "127.0.0.1"

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("serve() must not use the debug-capable run()")

    monkeypatch.setattr(Dash, "run", refuse)
    monkeypatch.setattr(Flask, "run", refuse)
    bound: dict[str, Any] = {}

    class FakeServer:
        port = 8050

        def serve_forever(self) -> None:
            bound["served"] = True

        def server_close(self) -> None:
            bound["closed"] = True

    def fake_bind(app: Any, host: str, port: int) -> FakeServer:
        bound.update(app=app, host=host, port=port)
        return FakeServer()

    monkeypatch.setattr(server, "_bind", fake_bind)
    monkeypatch.setattr(server, "_open_browser", refuse)
    threads = torch.get_num_threads()
    server.serve(open_browser=False)
    torch.set_num_threads(threads)
    assert bound["host"] == "127.0.0.1" and bound["served"] and bound["closed"]
    assert bound["app"].server.debug is False
