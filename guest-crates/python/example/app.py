"""A tracemend processor written in Python (componentize-py).

Config: {"prefix": "py:"}. Renames every span with an `http.route` to
`<prefix><route>`, tags it `lang=python`, and drops spans named `healthz`.
"""

import json

from componentize_py_types import Err
from wit_world import exports

from tracemend_plugin import Batch, Edits

_prefix = "py:"


class SpanProcessor(exports.SpanProcessor):
    def configure(self, config: str) -> None:
        global _prefix
        try:
            cfg = json.loads(config)
        except ValueError as e:
            raise Err(f"config is not valid JSON: {e}")
        for key in cfg:
            if key != "prefix":
                raise Err(f"config.{key}: unknown key (expected prefix)")
        prefix = cfg.get("prefix", "py:")
        if not isinstance(prefix, str):
            raise Err("config.prefix: must be a string")
        _prefix = prefix

    def process_traces(self, batch) -> object:
        view, edits = Batch(batch), Edits()
        for span in view.spans():
            if span.name == "healthz":
                edits.drop_span(span)
                continue
            route = span.attribute("http.route")
            if isinstance(route, str):
                edits.rename_span(span, _prefix + route)
                edits.set_attribute(span, "lang", "python")
                edits.set_attribute(span, "py.attrs", {"count": len(span.attributes()), "ok": True})
            for event in span.events():
                edits.set_attribute(event, "py.event", event.name)
        for resource in view.resources():
            edits.set_attribute(resource, "py.service", resource.attribute("service.name", ""))
        return edits.to_wit()

    def process_logs(self, batch) -> object:
        view, edits = Batch(batch), Edits()
        for log in view.logs():
            edits.set_attribute(log, "lang", "python")
        return edits.to_wit()
