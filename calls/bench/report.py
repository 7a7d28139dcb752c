"""How a bench run is shown: the summary table, the plot, the targets, docs/performance.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

# The targets, on one server core.
TARGET_CALLS = 200
TARGET_JITTER_P99_MS = 20.0
TARGET_OVERHEAD_P95_MS = 10.0
TARGET_BARGE_P95_MS = 100.0
TARGET_RSS_PER_CALL_MB = 2.0
GENERATOR_SATURATED_PCT = 85.0
DOCS_BEGIN = "<!-- bench:begin -->"
DOCS_END = "<!-- bench:end -->"

COLUMNS = (
    ("N", 5), ("ok", 5), ("err%", 5), ("jit p50", 7), ("p99", 6), ("max", 6), (">60ms", 5),
    ("under", 5), ("lag99≤", 6), ("ovh p50", 7), ("p95", 6), ("max", 6), ("barge p50", 9),
    ("p95", 6), ("cpu idle", 8), ("talk", 5), ("MB/call idle", 12), ("talk", 5), ("gen cpu", 8),
    ("noise", 5),
)


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def step_row(step: dict) -> list[str]:
    """One step's cells, in the order of COLUMNS."""
    jitter, overhead, barge = step["jitter_ms"], step["turn_overhead_ms"], step["barge_in_ms"]
    gen_cpu = step["talk"]["generator_cpu_pct"]
    return [
        str(step["calls"]), str(step["connected"]), _num(100 * step["error_rate"]),
        _num(jitter["p50"]), _num(jitter["p99"]), _num(jitter["max"]),
        str(step["gaps_over_60ms"]), str(step["underruns"]),
        _num(step["talk"]["pacer"].get("lag_p99_ms_le")),
        _num(overhead["p50"]), _num(overhead["p95"]), _num(overhead["max"]),
        _num(barge["p50"]), _num(barge["p95"]),
        _num(step["idle"]["server_cpu_pct"]), _num(step["talk"]["server_cpu_pct"]),
        _num(step["rss_per_call_mb"]["idle"], 2), _num(step["rss_per_call_mb"]["talk"], 2),
        _num(gen_cpu) + ("*" if gen_cpu > GENERATOR_SATURATED_PCT else ""),
        _num(step["talk"].get("others_on_server_core_pct")),
    ]


def text_table(steps: list[dict]) -> str:
    """The summary table for the terminal."""
    header = " ".join(name.rjust(width) for name, width in COLUMNS)
    lines = [header, "-" * len(header)]
    for step in steps:
        lines.append(" ".join(cell.rjust(width) for cell, (_, width) in
                              zip(step_row(step), COLUMNS, strict=True)))
    lines.append("jit: outbound inter-arrival |Δ − audio of the previous message| within agent "
                 "turns (ms); >60ms: gaps, messages more than 40 ms late (20 ms frames: over 60 ms "
                 "apart); "
                 "under: playback underruns; lag99≤: server loop lag p99 (bucket bound); ovh: turn "
                 "overhead (ms); barge: barge-in reaction beyond the VAD minimum (ms); cpu: server "
                 "% of one core; * generator saturated (>85%): numbers are the generator's; "
                 "noise: % of the server's core used by other processes")
    return "\n".join(lines)


def markdown_table(steps: list[dict]) -> str:
    header = ("| N calls | connected | errors % | jitter p50 / p99 / max (ms) | gaps (> 40 ms "
              "late) | "
              "underruns | loop lag p99 ≤ (ms) | turn overhead p50 / p95 / max (ms) | "
              "barge-in p50 / p95 (ms) | server CPU % idle / talking | CPU % per call idle / "
              "talking | RSS MB per call idle / talking | generator CPU % | other processes on "
              "the server core % |")
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for step in steps:
        c = step_row(step)
        lines.append(f"| {c[0]} | {c[1]} | {c[2]} | {c[3]} / {c[4]} / {c[5]} | {c[6]} | {c[7]} | "
                     f"{c[8]} | {c[9]} / {c[10]} / {c[11]} | {c[12]} / {c[13]} | {c[14]} / {c[15]} "
                     f"| {_per_call(step, 'idle')} / {_per_call(step, 'talk')} "
                     f"| {c[16]} / {c[17]} | {c[18]} | {c[19]} |")
    return "\n".join(lines)


def _per_call(step: dict, phase: str) -> str:
    return _num(step.get("cpu_pct_per_call", {}).get(phase), 2)


def cpu_bound_calls_per_core(steps: list[dict]) -> float | None:
    """Talking calls one core could carry at 100 % CPU: a straight line through the talking CPU
    of the steps below 90 % (fixed cost + cost per call). An upper bound: the latency targets
    give out before the CPU does. None with fewer than two such steps."""
    points = [(s["calls"], s["talk"]["server_cpu_pct"]) for s in steps
              if s["talk"]["server_cpu_pct"] < 90]
    if len(points) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / var
    if slope <= 0:
        return None
    intercept = mean_y - slope * mean_x
    return round((100 - intercept) / slope, 0)


def healthy(step: dict) -> bool:
    """A step that meets the call-quality targets: few errors, jitter p99 and no gaps."""
    p99 = step["jitter_ms"]["p99"]
    return (step["error_rate"] <= 0.05 and p99 is not None and p99 <= TARGET_JITTER_P99_MS
            and step["gaps_over_60ms"] == 0)


def targets(steps: list[dict]) -> list[tuple[str, bool | None, str]]:
    """(target, met?, evidence) for each of the issue's targets. Capacity is the largest healthy
    step; the latency and memory targets are judged at TARGET_CALLS calls (or the largest step
    when the ramp stopped before), and at the largest healthy step when it differs."""
    if not steps:
        return []
    best = max((s["calls"] for s in steps if healthy(s)), default=None)
    at = next((s for s in steps if s["calls"] == TARGET_CALLS),
              max(steps, key=lambda s: s["calls"]))
    good = next((s for s in steps if s["calls"] == best), None)
    n = at["calls"]

    def le(value: float | None, limit: float) -> bool | None:
        return None if value is None else value <= limit

    def also(key: str, field: str) -> str:
        if good is None or good is at:
            return ""
        return f"; {_num(good[key][field])} ms at {good['calls']} calls"

    overhead_p95 = at["turn_overhead_ms"]["p95"]
    barge_p95 = at["barge_in_ms"]["p95"]
    rss = at["rss_per_call_mb"]["talk"]
    return [
        (f"≥ {TARGET_CALLS} concurrent calls on one core with jitter p99 ≤ "
         f"{TARGET_JITTER_P99_MS:g} ms and no gap",
         best is not None and best >= TARGET_CALLS,
         f"largest step meeting both: {best} calls" if best else "no step met both"),
        (f"jitter p99 ≤ {TARGET_JITTER_P99_MS:g} ms",
         le(at["jitter_ms"]["p99"], TARGET_JITTER_P99_MS),
         f"p99 {_num(at['jitter_ms']['p99'])} ms at {n} calls" + also("jitter_ms", "p99")),
        ("zero gaps over 60 ms (a message more than 40 ms late)", at["gaps_over_60ms"] == 0,
         f"{at['gaps_over_60ms']} gaps in {at['agent_frames']} messages at {n} calls"),
        (f"turn overhead p95 ≤ {TARGET_OVERHEAD_P95_MS:g} ms",
         le(overhead_p95, TARGET_OVERHEAD_P95_MS),
         f"p95 {_num(overhead_p95)} ms at {n} calls" + also("turn_overhead_ms", "p95")
         + _server_overhead(at, good)),
        (f"barge-in reaction p95 ≤ {TARGET_BARGE_P95_MS:g} ms after the VAD minimum",
         le(barge_p95, TARGET_BARGE_P95_MS),
         f"p95 {_num(barge_p95)} ms at {n} calls" + also("barge_in_ms", "p95")),
        (f"≤ {TARGET_RSS_PER_CALL_MB:g} MB RSS per call", le(rss, TARGET_RSS_PER_CALL_MB),
         f"{_num(rss, 2)} MB per talking call at {n} calls"),
    ]


def pauses_table(steps: list[dict]) -> list[str]:
    """Per step, what can stop every call at once, and how the turn overhead splits up."""
    lines = ["What can pause every call at once, per talking window, and the server-clock turn "
             "overhead by stage (p95, ms beyond the simulated latency):", "",
             "| N calls | loop lag max ≤ (ms) | full GC collections / ms | longest GC pause so "
             "far (ms) | host steal on the server core (ms) | end of turn → STT final | → LLM "
             "token | → TTS audio | → first frame | calls stored after hang-up (s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for step in steps:
        talk = step["talk"]
        pacer = talk.get("pacer") or {}
        collections = pacer.get("gc_collections") or [None] * 3
        pauses = pacer.get("gc_pause_ms_in_window") or [None] * 3
        stages = (step.get("server_turn_overhead_ms") or {}).get("stages") or {}

        def stage(name: str, stages=stages) -> str:
            return _num((stages.get(name) or {}).get("p95"), 0)

        lines.append(
            f"| {step['calls']} | {_num(pacer.get('lag_max_ms_le'), 0)} | "
            f"{_num(collections[2], 0)} / {_num(pauses[2])} | "
            f"{_num(max(pacer.get('gc_max_pause_ms') or [0]))} | "
            f"{_num(talk.get('steal_ms_server_core'), 0)} | {stage('stt_final')} | "
            f"{stage('llm_first_token')} | {stage('tts_first_audio')} | {stage('first_frame')} | "
            f"{_num(step.get('calls_stored_s'))} |")
    return lines


def _server_overhead(at: dict, good: dict | None) -> str:
    """The same target by the server's own clock (from its VAD's end of speech)."""
    steps = [at] + ([good] if good is not None and good is not at else [])
    parts = [f"{_num(step['server_turn_overhead_ms']['p95'])} ms at {step['calls']} calls"
             for step in steps
             if (step.get("server_turn_overhead_ms") or {}).get("p95") is not None]
    return "; by the server's clock p95 " + ", ".join(parts) if parts else ""


def floor_table(rows: list[dict]) -> list[str]:
    """The bare server stack (calls.bench.floor): CPU per message with no application work."""
    lines = ["| server | calls | CPU % idle | µs per inbound message | CPU % talking | "
             "µs per message talking | talking calls per core, stack alone |",
             "|---|---|---|---|---|---|---|"]
    by_server: dict[str, dict[str, dict]] = {}
    for row in rows:
        by_server.setdefault(row["server"], {})[row["mode"]] = row
    for server, modes in by_server.items():
        idle, talking = modes.get("idle", {}), modes.get("talking", {})
        lines.append(
            f"| {FLOOR_LABELS.get(server, server)} | {idle.get('calls', talking.get('calls'))} | "
            f"{_num(idle.get('cpu_pct'))} | {_num(idle.get('us_per_message'))} | "
            f"{_num(talking.get('cpu_pct'))} | {_num(talking.get('us_per_message'))} | "
            f"{_num(talking.get('ceiling_calls'), 0)} |")
    return lines


FLOOR_LABELS = {
    "daphne": "daphne + uvloop + WebSocket fast path (`python -m aybiza.server`, production)",
    "daphne-uvloop": "daphne + uvloop, autobahn framing only",
    "daphne-plain": "plain `daphne` (asyncio loop, autobahn framing)",
    "uvicorn": "uvicorn (uvloop, websockets-sansio), comparison only",
}


def plot(steps: list[dict], path: Path, title: str) -> None:
    """Jitter p99, turn overhead p95 and server CPU against concurrent calls (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    calls = [s["calls"] for s in steps]
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    series = (
        ("outbound jitter p99 (ms)", [s["jitter_ms"]["p99"] for s in steps], TARGET_JITTER_P99_MS),
        ("turn overhead p95 (ms)", [s["turn_overhead_ms"]["p95"] for s in steps],
         TARGET_OVERHEAD_P95_MS),
        ("server CPU (% of one core)", [s["talk"]["server_cpu_pct"] for s in steps], 100.0),
    )
    for axis, (label, values, target) in zip(axes, series, strict=True):
        points = [(n, v) for n, v in zip(calls, values, strict=True) if v is not None]
        if points:
            axis.plot(*zip(*points, strict=True), marker="o")
        axis.axhline(target, color="tab:red", linestyle="--", linewidth=1, label="target / limit")
        axis.set_xlabel("concurrent calls")
        axis.set_title(label, fontsize=10)
        axis.grid(alpha=0.3)
        if "ms" in label:  # latencies span 1 ms to seconds: linear below 10 ms, log above
            axis.set_yscale("symlog", linthresh=10)
        axis.set_ylim(bottom=0)
    axes[0].legend(fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def markdown_section(run: dict) -> str:
    """The generated part of docs/performance.md: machine, table, targets, offline costs."""
    machine = run["machine"]
    lines = [
        f"Run `{run['started_at']}` (`{run['command']}`), server: {run['server']}.",
        "",
        f"- Machine: {machine['cpu_model']}, {machine['cores']} cores "
        f"(server pinned to core {run['server_core']}, generator to core {run['generator_core']}), "
        f"Linux {machine['kernel']}; load average before the run {machine['loadavg_before']}.",
        f"- Python {machine['python']}, daphne {machine['daphne']}, Django {machine['django']}, "
        f"channels {machine['channels']}.",
        f"- Simulated providers: STT final {run['providers']['stt_final_ms']} ms, LLM first token "
        f"{run['providers']['llm_first_token_ms']} ms, TTS first audio "
        f"{run['providers']['tts_first_audio_ms']} ms; end-of-turn silence "
        f"{run['agent']['end_of_turn_silence_ms']} ms, barge-in minimum "
        f"{run['agent']['barge_in_min_speech_ms']} ms. Window {run['options']['measure_s']} s "
        f"per step.",
        "",
        markdown_table(run["steps"]),
        "",
        "| target | met | measured |",
        "|---|---|---|",
    ]
    for name, met, evidence in targets(run["steps"]):
        verdict = "n/a" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {name} | {verdict} | {evidence} |")
    lines += ["", *pauses_table(run["steps"])]
    bound = cpu_bound_calls_per_core(run["steps"])
    if bound:
        lines += ["", f"CPU-bound ceiling: about {bound:.0f} talking calls per core at 100 % CPU "
                      "(fixed cost + cost per call fitted on the steps below 90 % CPU)."]
    if run.get("stopped"):
        lines += ["", f"The ramp stopped {run['stopped']}."]
    floor = run.get("floor")
    if isinstance(floor, list) and floor:
        lines += ["", "Server stack floor (`python -m calls.bench.floor`): the same cores, an ASGI "
                      "app that does nothing but drain its messages (idle) or answer each with one "
                      "media message (talking), Twilio-sized frames every 20 ms:", "",
                  *floor_table(floor)]
    elif isinstance(floor, dict) and "error" in floor:
        lines += ["", f"Server stack floor: {floor['error']}."]
    offline = run.get("offline_cost")
    if offline:
        lines += ["", "Offline speech stack (one core, measured on the provider classes):", "",
                  "| provider | CPU s per audio s | real-time calls per core "
                  "| event loop late while it decodes, p99 / max |", "|---|---|---|---|"]
        for name, cost in offline.items():
            if "error" in cost:
                lines.append(f"| {name} | – | {cost['error']} | – |")
                continue
            late = ("–" if cost.get("loop_wait_ms_max") is None
                    else f"{cost['loop_wait_ms_p99']:.0f} / {cost['loop_wait_ms_max']:.0f} ms")
            lines.append(f"| {name} | {cost['cpu_s_per_audio_s']:.3f} | "
                         f"{cost['calls_per_core']:.0f} | {late} |")
    return "\n".join(lines)


def update_docs(path: Path, section: str) -> None:
    """Replace the generated block of docs/performance.md (between the bench markers)."""
    text = path.read_text() if path.exists() else f"# Performance\n\n{DOCS_BEGIN}\n{DOCS_END}\n"
    pattern = re.compile(re.escape(DOCS_BEGIN) + r".*?" + re.escape(DOCS_END), re.DOTALL)
    if not pattern.search(text):
        text += f"\n{DOCS_BEGIN}\n{DOCS_END}\n"
    path.write_text(pattern.sub(lambda _: f"{DOCS_BEGIN}\n{section}\n{DOCS_END}", text))
