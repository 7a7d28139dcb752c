"""Channels: Redis channel layer in production, in-memory in the embedded default."""

from .env import REDIS_URL, USE_REDIS

if USE_REDIS:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py's default socket timeout (5 s) is channels_redis's blocking read (BZPOPMIN,
            # 5 s): every idle receive failed and dropped its connection. Longer: only dead ones do.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                       "capacity": 1500, "expiry": 30},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
