"""`make bench`: hundreds of simulated Twilio calls against a real daphne server.

The pieces, each small:

    runner.py      orchestration: PostgreSQL + Redis, migrate, seed, daphne pinned to core 0,
                   the ramp of steps, results JSON, table, plot (`manage.py bench`)
    generator.py   the load generator process (pinned to core 1): N calls, one ticker
    wsclient.py    a lean WebSocket client protocol (precomputed frames, no per-frame tasks)
    speech.py      caller speech: espeak-ng → 8 kHz µ-law clips, checked against the server's VAD
    stats.py       pure statistics: jitter, gaps, underruns, turn overhead, barge-in, histograms
    asgi.py        the production ASGI app plus a bench-only pacer statistics endpoint
    seed.py        the bench tenant, agent (instant fake providers) and number
    offline_cost.py  CPU cost of the offline speech stack (pocketsphinx, hibari) per audio second
    report.py      the summary table, the plot, and the docs/performance.md section
"""
