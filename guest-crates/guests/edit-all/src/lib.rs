//! Test guest: emits every edit kind, with nested `AnyValue`s, so the host's
//! round-trip test can check each one. Config `{"fail": "message"}` makes
//! `configure` reject with that message; `{"interest": true}` declares the
//! rows it needs (spans with an `exception` event or a `pick.*` attribute,
//! log records with a `pick.*` attribute), so the host's tests can check
//! that every edit still lands on the right row when only those are shown.
use tracemend_sdk::{
    Batch, Edits, Interest, NewValue, Processor, StatusCode, Value, export_processor, host,
};

struct EditAll;

fn nested() -> NewValue {
    NewValue::KvList(vec![
        (
            "a".into(),
            NewValue::Array(vec![
                NewValue::Int(1),
                NewValue::from("x"),
                NewValue::KvList(vec![("b".into(), NewValue::Bytes(vec![0, 159, 255]))]),
            ]),
        ),
        ("d".into(), NewValue::Double(1.5)),
        ("t".into(), NewValue::Bool(true)),
        ("e".into(), NewValue::Empty),
    ])
}

impl Processor for EditAll {
    fn configure(config: &str) -> Result<Self, String> {
        if let Some(rest) = config.split("\"fail\":\"").nth(1) {
            return Err(rest.split('"').next().unwrap_or("").to_owned());
        }
        if config.contains("\"interest\":true") {
            Interest::new()
                .span_event("exception")
                .span_attribute_prefix("pick.")
                .log_attribute_prefix("pick.")
                .declare()?;
        }
        host::log(
            host::Level::Info,
            "edit-all configured",
            &[("config", config)],
        );
        Ok(EditAll)
    }

    fn process_traces(&mut self, batch: Batch<'_>, edits: &mut Edits) -> Result<(), String> {
        host::counter_add("batches", 1);
        // A granted blob (YAML `grants.data.greeting`), if any.
        let blob = host::data("greeting").map(|b| String::from_utf8_lossy(&b).into_owned());
        for r in batch.resources() {
            edits.set_attribute(&r, "res.edited", "yes");
            if let Some(b) = &blob {
                edits.set_attribute(&r, "blob", b.as_str());
            }
        }
        for s in batch.scopes() {
            edits.set_attribute(&s, "scope.edited", 7i64);
        }
        for span in batch.spans() {
            if span.attribute("drop").and_then(|v| v.as_bool()) == Some(true) {
                edits.drop_span(&span);
                continue;
            }
            edits.set_attribute(&span, "nested", nested());
            edits.remove_attribute(&span, "remove.me");
            if let Some(v) = span.attribute("copy.src") {
                edits.set_attribute(&span, "copy.dst", v);
            }
            edits.rename_span(&span, &format!("{}.renamed", span.name()));
            edits.set_status(&span, StatusCode::Error, "boom");
            for ev in span.events() {
                edits.set_attribute(&ev, "event.edited", ev.name());
            }
            for l in span.links() {
                edits.set_attribute(&l, "link.edited", l.trace_id().len() as i64);
            }
        }
        Ok(())
    }

    fn process_logs(&mut self, batch: Batch<'_>, edits: &mut Edits) -> Result<(), String> {
        for log in batch.logs() {
            if log.attribute("drop").and_then(|v| v.as_bool()) == Some(true) {
                edits.drop_log(&log);
                continue;
            }
            // Copy the body through the view and back: a round trip of the
            // whole AnyValue tree.
            let orig = log.body().map(NewValue::from).unwrap_or(NewValue::Empty);
            let depth = log.body().map(depth).unwrap_or(0);
            edits.set_body(
                &log,
                NewValue::KvList(vec![
                    ("orig".into(), orig),
                    ("depth".into(), NewValue::Int(depth)),
                ]),
            );
            edits.set_attribute(&log, "severity", log.severity_text());
            edits.remove_attribute(&log, "remove.me");
        }
        Ok(())
    }
}

fn depth(v: Value<'_>) -> i64 {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::KvList(kv) => 1 + kv.iter().map(|(_, v)| depth(v)).max().unwrap_or(0),
        _ => 0,
    }
}

export_processor!(EditAll);
