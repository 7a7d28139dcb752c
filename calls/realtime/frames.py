"""The telephone audio format, defined once: Twilio Media Streams carry 8 kHz µ-law, one byte per
sample, in 20 ms frames. Dependency-free, so the pacer, the simulator and the bench share it."""

SAMPLE_RATE = 8000
BYTES_PER_S = SAMPLE_RATE  # µ-law: one byte per sample
FRAME_MS = 20
FRAME_S = FRAME_MS / 1000
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000  # 160 µ-law bytes = 160 samples = 20 ms
ULAW_SILENCE = 0xFF  # µ-law code of digital zero (0x7F is the negative zero)
