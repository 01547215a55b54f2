"""Compiled form versions, kept per process: compiling is milliseconds, validating microseconds."""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from typing import Final

from forms import CompiledForm, ComponentRegistry, FormSchema, fingerprint

DEFAULT_SIZE: Final = 512


class CompiledForms:
    """An LRU of compiled versions keyed by content.

    The key includes the SHA-256 of the schema's canonical bytes, so an edited draft never hits a
    stale entry, and a published version (immutable) is compiled once per process.
    """

    def __init__(self, registry: ComponentRegistry, size: int = DEFAULT_SIZE) -> None:
        self.registry = registry
        self._size = size
        self._entries: OrderedDict[tuple[str, int, str], CompiledForm] = OrderedDict()
        #: (form, version) pairs compiled here; an evicted one only costs intake a second query.
        self._versions: set[tuple[str, int]] = set()
        # ``aget`` compiles in a worker thread while the loop uses the cache: one lock for the dict.
        self._lock = threading.Lock()

    def get(self, schema: FormSchema, version: int, sha256: str | None = None) -> CompiledForm:
        key = (schema.id, version, sha256 or fingerprint(schema))
        with self._lock:
            compiled = self._entries.get(key)
            if compiled is not None:
                self._entries.move_to_end(key)
                return compiled
        compiled = CompiledForm(schema, version, self.registry)
        with self._lock:
            self._entries[key] = compiled
            self._versions.add((schema.id, version))
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return compiled

    def has_version(self, form_id: str, version: int) -> bool:
        """Whether some content of that version was compiled here (a published version has one)."""
        return (form_id, version) in self._versions

    def cached(self, form_id: str, version: int, sha256: str) -> CompiledForm | None:
        """The compiled version if this process has it: intake then needs neither the stored schema nor its parsing."""
        with self._lock:
            compiled = self._entries.get((form_id, version, sha256))
            if compiled is not None:
                self._entries.move_to_end((form_id, version, sha256))
        return compiled

    async def aget(self, schema: FormSchema, version: int, sha256: str) -> CompiledForm:
        """``get``, compiling off the event loop on a miss: a form of thousands of fields takes seconds."""
        with self._lock:
            compiled = self._entries.get((schema.id, version, sha256))
        if compiled is not None:
            return compiled
        return await asyncio.to_thread(self.get, schema, version, sha256)

    def __len__(self) -> int:
        return len(self._entries)
