//! Runs the engine natively over JSON lines `{"id", "carrier", "key", "value"}`
//! (the corpus of `tests/redaction/corpus.py`) and prints `{"id", "value"}`
//! lines, `value` null when the attribute was removed. A development aid:
//! the CI evaluation runs the real guest inside the collector. Walks values
//! the way the guest does (key verdicts, nested maps, body defusal).
//!
//! ```sh
//! python -m tests.redaction.corpus | cargo run --release --example redact_jsonl -- '{}'
//! ```

use std::io::{BufRead, Write};

use redact_core::{Engine, Hits, KeyOutcome, KeyVerdict};
use serde_json::Value;

fn walk(e: &Engine, key: &str, v: &Value, defuse: bool, hits: &mut Hits) -> Option<Value> {
    let (skip, defuse_key, pseudo) = match e.key_verdict(key) {
        KeyVerdict::Allow => return Some(v.clone()),
        KeyVerdict::Rule(r) => {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            return match e.apply_key_rule(r, &text, hits) {
                KeyOutcome::Keep => Some(v.clone()),
                KeyOutcome::Remove => None,
                KeyOutcome::Set(s) => Some(Value::String(s)),
            };
        }
        KeyVerdict::Scan {
            skip,
            defuse,
            pseudo,
        } => (skip.into(), defuse, pseudo),
    };
    Some(scan(e, v, skip, pseudo, defuse || defuse_key, hits))
}

fn scan(e: &Engine, v: &Value, skip: u128, pseudo: bool, defuse: bool, hits: &mut Hits) -> Value {
    match v {
        Value::String(s) => {
            let red = e.redact_text(s, skip, pseudo, hits, &mut Vec::new());
            let cur = red.as_deref().unwrap_or(s);
            let out = if defuse {
                e.defuse(cur, hits).map(|(t, _)| t)
            } else {
                None
            };
            Value::String(out.or(red).unwrap_or_else(|| s.clone()))
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .filter_map(|(k, x)| walk(e, k, x, defuse, hits).map(|n| (k.clone(), n)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| scan(e, x, skip, pseudo, defuse, hits))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = std::env::args().nth(1).unwrap_or_else(|| "{}".into());
    let engine = Engine::from_json(&config, &|_| Some(b"0123456789abcdef-dev-key".to_vec()))?;
    let mut hits = Hits::default();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in std::io::stdin().lock().lines() {
        let item: Value = serde_json::from_str(&line?)?;
        let key = item["key"].as_str().unwrap_or("");
        // Bodies and status messages are scanned whole (and defused), as
        // the guest does; attributes go through their key's verdict first.
        let whole = matches!(
            item["carrier"].as_str(),
            Some("log_body" | "log_struct" | "status")
        );
        let value = if whole {
            Some(scan(&engine, &item["value"], 0, false, true, &mut hits))
        } else {
            walk(&engine, key, &item["value"], false, &mut hits)
        };
        writeln!(
            out,
            "{}",
            serde_json::json!({ "id": item["id"], "value": value })
        )?;
    }
    Ok(())
}
