"""Python helper for tracemend processors built with componentize-py.

Gives a Python guest the same views as the Rust SDK: spans and log records
with attribute lookup, values decoded from the packed row tables, and an
`Edits` builder that packs edits the way the host expects. The byte layout is
`wit/layout.rs`; the offsets below mirror it.

    from tracemend_plugin import Batch, Edits

    class SpanProcessor(exports.SpanProcessor):
        def process_traces(self, batch):
            view, edits = Batch(batch), Edits()
            for span in view.spans():
                edits.set_attribute(span, "team", "payments")
            return edits.to_wit()
"""

import struct

from wit_world.imports import types

NONE = 0xFFFFFFFF

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")
# An edit row (op, target, padding, index, text start and length, value,
# code) and a value node's head (kind, parent, key start and length): the
# fields at the offsets of EDIT and VALUE below (held equal by
# tests/e2e/test_python_sdk_layout.py).
_EDIT_ROW = struct.Struct("<BBHIIIII8x")
_VALUE_HEAD = struct.Struct("<B3xIII")

# Row sizes and field offsets (wit/layout.rs).
RESOURCE = dict(size=20, attrs=0, dropped=8, schema_url=12)
SCOPE = dict(size=40, resource=0, name=4, version=12, attrs=20, dropped=28, schema_url=32)
SPAN = dict(size=120, scope=0, trace_id=4, span_id=12, parent_span_id=20, trace_state=28,
            name=36, kind=44, flags=48, status_code=52, start=56, end=64, attrs=72,
            dropped=80, events=84, links=96, status_message=108)
EVENT = dict(size=32, span=0, name=4, attrs=12, dropped=20, time=24)
LINK = dict(size=48, span=0, trace_id=4, span_id=12, trace_state=20, attrs=28, dropped=36, flags=40)
LOG = dict(size=80, scope=0, severity_number=4, time=8, observed_time=16, severity_text=24,
           body=32, attrs=36, dropped=44, flags=48, trace_id=52, span_id=60, event_name=68)
VALUE = dict(size=24, kind=0, parent=4, key=8, payload=16)
VALUE_SIZE = VALUE["size"]
KIND_EMPTY, KIND_STRING, KIND_BOOL, KIND_INT, KIND_DOUBLE, KIND_BYTES, KIND_ARRAY, KIND_KVLIST = range(8)
EDIT = dict(size=32, op=0, target=1, index=4, text=8, value=16, code=20)
EDIT_SIZE = EDIT["size"]
OP_SET_ATTRIBUTE, OP_REMOVE_ATTRIBUTE, OP_SET_BODY, OP_RENAME_SPAN, OP_SET_STATUS, OP_DROP_SPAN, OP_DROP_LOG = range(1, 8)
TARGET_RESOURCE, TARGET_SCOPE, TARGET_SPAN, TARGET_EVENT, TARGET_LINK, TARGET_LOG = range(6)


def _u32(buf, off):
    return _U32.unpack_from(buf, off)[0]


class Batch:
    """A read-only view of one batch (the WIT `batch` record)."""

    def __init__(self, raw):
        self.raw = raw
        self.arena = raw.arena

    def _bytes(self, row_buf, off):
        start, length = _u32(row_buf, off), _u32(row_buf, off + 4)
        return bytes(self.arena[start:start + length])

    def _str(self, row_buf, off):
        return self._bytes(row_buf, off).decode("utf-8", "replace")

    def value(self, index):
        """Decodes value node `index` into (key, python value)."""
        buf = self.raw.values
        base = index * VALUE_SIZE
        kind = buf[base + VALUE["kind"]]
        key = self._str(buf, base + VALUE["key"])
        p = base + VALUE["payload"]
        if kind == KIND_STRING:
            return key, self._str(buf, p)
        if kind == KIND_BOOL:
            return key, buf[p] != 0
        if kind == KIND_INT:
            return key, _I64.unpack_from(buf, p)[0]
        if kind == KIND_DOUBLE:
            return key, _F64.unpack_from(buf, p)[0]
        if kind == KIND_BYTES:
            return key, self._bytes(buf, p)
        if kind in (KIND_ARRAY, KIND_KVLIST):
            first, count = _u32(buf, p), _u32(buf, p + 4)
            items = [self.value(i) for i in range(first, first + count)] if first > index else []
            if kind == KIND_ARRAY:
                return key, [v for _, v in items]
            return key, dict(items)
        return key, None

    def resources(self):
        return [Resource(self, i) for i in range(len(self.raw.resources) // RESOURCE["size"])]

    def scopes(self):
        return [Scope(self, i) for i in range(len(self.raw.scopes) // SCOPE["size"])]

    def spans(self):
        return [Span(self, i) for i in range(len(self.raw.spans) // SPAN["size"])]

    def logs(self):
        return [LogRecord(self, i) for i in range(len(self.raw.logs) // LOG["size"])]


class _Row:
    TABLE = ""
    LAYOUT = {}
    TARGET = 0

    def __init__(self, batch, index):
        self.batch = batch
        self.index = index
        size = self.LAYOUT["size"]
        buf = getattr(batch.raw, self.TABLE)
        self._buf = buf
        self._base = index * size

    def _u32(self, field):
        return _u32(self._buf, self._base + self.LAYOUT[field])

    def _u64(self, field):
        return _U64.unpack_from(self._buf, self._base + self.LAYOUT[field])[0]

    def _str(self, field):
        return self.batch._str(self._buf, self._base + self.LAYOUT[field])

    def _bytes(self, field):
        return self.batch._bytes(self._buf, self._base + self.LAYOUT[field])

    def attributes(self):
        """All attributes as a dict (first occurrence of a key wins)."""
        first, count = self._u32("attrs"), _u32(self._buf, self._base + self.LAYOUT["attrs"] + 4)
        out = {}
        for i in range(first, first + count):
            k, v = self.batch.value(i)
            out.setdefault(k, v)
        return out

    def attribute(self, key, default=None):
        return self.attributes().get(key, default)


class Resource(_Row):
    TABLE, LAYOUT, TARGET = "resources", RESOURCE, TARGET_RESOURCE


class Scope(_Row):
    TABLE, LAYOUT, TARGET = "scopes", SCOPE, TARGET_SCOPE

    @property
    def name(self):
        return self._str("name")

    @property
    def version(self):
        return self._str("version")

    def resource(self):
        return Resource(self.batch, self._u32("resource"))


class Event(_Row):
    TABLE, LAYOUT, TARGET = "events", EVENT, TARGET_EVENT

    @property
    def name(self):
        return self._str("name")

    @property
    def time_unix_nano(self):
        return self._u64("time")


class Link(_Row):
    TABLE, LAYOUT, TARGET = "links", LINK, TARGET_LINK

    @property
    def trace_id(self):
        return self._bytes("trace_id")

    @property
    def span_id(self):
        return self._bytes("span_id")


class Span(_Row):
    TABLE, LAYOUT, TARGET = "spans", SPAN, TARGET_SPAN

    def scope(self):
        return Scope(self.batch, self._u32("scope"))

    def resource(self):
        return self.scope().resource()

    def events(self):
        first = self._u32("events")
        count = _u32(self._buf, self._base + SPAN["events"] + 4)
        return [Event(self.batch, i) for i in range(first, first + count)]

    def links(self):
        first = self._u32("links")
        count = _u32(self._buf, self._base + SPAN["links"] + 4)
        return [Link(self.batch, i) for i in range(first, first + count)]

    @property
    def parent_span_id(self):
        return self._bytes("parent_span_id")

    @property
    def start_time_unix_nano(self):
        return self._u64("start")

    @property
    def end_time_unix_nano(self):
        return self._u64("end")

    @property
    def status_message(self):
        return self._str("status_message")

    @property
    def name(self):
        return self._str("name")

    @property
    def trace_id(self):
        return self._bytes("trace_id")

    @property
    def span_id(self):
        return self._bytes("span_id")

    @property
    def kind(self):
        return self._u32("kind")

    @property
    def status_code(self):
        return self._u32("status_code")

    @property
    def duration_nanos(self):
        return max(0, self._u64("end") - self._u64("start"))


class LogRecord(_Row):
    TABLE, LAYOUT, TARGET = "logs", LOG, TARGET_LOG

    @property
    def severity_text(self):
        return self._str("severity_text")

    def scope(self):
        return Scope(self.batch, self._u32("scope"))

    @property
    def severity_number(self):
        return self._u32("severity_number")

    @property
    def trace_id(self):
        return self._bytes("trace_id")

    @property
    def body(self):
        node = self._u32("body")
        return None if node == NONE else self.batch.value(node)[1]


class Edits:
    """Packs edits into the WIT `edits` record."""

    def __init__(self):
        self.rows = bytearray()
        self.arena = bytearray()
        self.values = bytearray()

    def _s(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        off = len(self.arena)
        self.arena += data
        return off, len(data)

    def _row(self, op, target, index, text=(0, 0), value=NONE, code=0):
        self.rows += _EDIT_ROW.pack(op, target, 0, index, text[0], text[1], value, code)

    def _reserve(self, n):
        first = len(self.values) // VALUE_SIZE
        self.values += bytes(n * VALUE_SIZE)
        return first

    def _write(self, index, parent, key, value):
        if value is None:
            kind, payload = KIND_EMPTY, bytes(8)
        elif isinstance(value, bool):
            kind, payload = KIND_BOOL, _U64.pack(int(value))
        elif isinstance(value, int):
            kind, payload = KIND_INT, _I64.pack(value)
        elif isinstance(value, float):
            kind, payload = KIND_DOUBLE, _F64.pack(value)
        elif isinstance(value, str):
            kind, payload = KIND_STRING, struct.pack("<II", *self._s(value))
        elif isinstance(value, (bytes, bytearray)):
            kind, payload = KIND_BYTES, struct.pack("<II", *self._s(bytes(value)))
        elif isinstance(value, (list, tuple)):
            first = self._reserve(len(value))
            for i, item in enumerate(value):
                self._write(first + i, index, (0, 0), item)
            kind, payload = KIND_ARRAY, struct.pack("<II", first, len(value))
        elif isinstance(value, dict):
            first = self._reserve(len(value))
            for i, (k, item) in enumerate(value.items()):
                self._write(first + i, index, self._s(str(k)), item)
            kind, payload = KIND_KVLIST, struct.pack("<II", first, len(value))
        else:
            raise TypeError(f"cannot encode {type(value).__name__} as an AnyValue")
        base = index * VALUE_SIZE
        self.values[base:base + VALUE_SIZE] = _VALUE_HEAD.pack(kind, parent, key[0], key[1]) + payload

    def _value(self, value):
        root = self._reserve(1)
        self._write(root, NONE, (0, 0), value)
        return root

    def set_attribute(self, row, key, value):
        text = self._s(key)
        self._row(OP_SET_ATTRIBUTE, row.TARGET, row.index, text, self._value(value))

    def remove_attribute(self, row, key):
        self._row(OP_REMOVE_ATTRIBUTE, row.TARGET, row.index, self._s(key))

    def set_body(self, log, value):
        self._row(OP_SET_BODY, TARGET_LOG, log.index, value=self._value(value))

    def rename_span(self, span, name):
        self._row(OP_RENAME_SPAN, TARGET_SPAN, span.index, self._s(name))

    def set_status(self, span, code, message=""):
        self._row(OP_SET_STATUS, TARGET_SPAN, span.index, self._s(message), code=code)

    def drop_span(self, span):
        self._row(OP_DROP_SPAN, TARGET_SPAN, span.index)

    def drop_log(self, log):
        self._row(OP_DROP_LOG, TARGET_LOG, log.index)

    def to_wit(self):
        return types.Edits(rows=bytes(self.rows), arena=bytes(self.arena), values=bytes(self.values))
