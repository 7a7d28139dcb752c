"""Static files in an async Django stack.

WhiteNoise's middleware is sync-only: in Django's async handler that one entry makes every
request hop to a thread and back (sync_to_async around it, async_to_sync below it), and a client
that hangs up mid-request leaves the cancelled frames of that hop as cyclic garbage
(`aybiza/core/tests/test_asgi_handler.py`). This subclass serves the same files, the same way,
but is async-capable: in the async stack it looks the file up (the in-memory index in production;
the disk, off the loop, in development) and otherwise awaits the next handler directly.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from whitenoise.middleware import WhiteNoiseMiddleware


class AsyncWhiteNoiseMiddleware(WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response=None, *args, **kwargs) -> None:
        super().__init__(get_response, *args, **kwargs)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request):
        path = request.path_info
        if not path.startswith(self.static_prefix):
            return await self.get_response(request)
        if self.autorefresh:  # development: the file system is the index
            static_file = await sync_to_async(self.find_file, thread_sensitive=False)(path)
        else:
            static_file = self.files.get(path)
        if static_file is not None:
            return self.serve(static_file, request)
        return await self.get_response(request)
