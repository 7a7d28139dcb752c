"""The call simulator, a product feature: call an agent without Twilio or a phone.

It plays Twilio (signed webhook, signed media-stream handshake, real-time 20 ms frames, marks)
and the caller (synthesized lines, keys, barge-ins) against a running AYBIZA server, so a user
can test an agent end to end from a laptop (`manage.py simulate_call`, `make demo`). The
end-to-end tests and the bench drive the same code; it is not test scaffolding.
"""
