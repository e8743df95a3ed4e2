//! One error trace and its logs to one Failure Envelope: identity, symptom,
//! inputs, environment, state, timing (docs/envelopes.md, "The built-in
//! assembler").

use serde_json::{Map, Value};

use crate::config::Config;
use crate::environment;
use crate::failure::{self, ERROR_TYPE};
use crate::inputs;
use crate::message::cut_chars;
use crate::model::{Trace, text};
use crate::outcome::{Notes, Outcome, Skip};
use crate::symptom;
use crate::time::rfc3339;
use crate::timing;

/// The schema version this guest writes.
const SCHEMA_VERSION: &str = "1";
const MAX_SERVICE_FIELD_CHARS: usize = 128;

/// Assembles the envelope of `trace`. `Err` is for input no trace can be
/// (a failing span without a valid trace or span id); a trace that is fine
/// but lacks what an envelope needs is [`Outcome::Skipped`].
pub(crate) fn assemble(trace: &Trace<'_>, config: &Config) -> Result<Outcome, String> {
    let skip = |reason: Skip, detail: String| Ok(Outcome::Skipped { reason, detail });
    let Some(failure) = failure::find(trace) else {
        return skip(Skip::NoError, "no span has an error".into());
    };
    let span = failure.span;
    let trace_id = id_hex(span.trace_id, 16).ok_or_else(|| {
        format!(
            "failing span {:?}: trace id is {} bytes ({}), want 16 not all zero",
            span.name,
            span.trace_id.len(),
            hex(span.trace_id)
        )
    })?;
    let span_id = id_hex(span.span_id, 8).ok_or_else(|| {
        format!(
            "failing span {:?}: span id is {} bytes ({}), want 8 not all zero",
            span.name,
            span.span_id.len(),
            hex(span.span_id)
        )
    })?;
    let Some(request) = failure::request_span(trace, span) else {
        return skip(
            Skip::NoServerSpan,
            format!(
                "span {:?} has no SERVER span of its service above it",
                span.name
            ),
        );
    };
    let resource = trace.resource(request.resource);
    let service = match text(resource, "service.name") {
        Some(s) if service_name_ok(s) => s,
        Some(s) => {
            return skip(
                Skip::NoService,
                format!(
                    "`service.name` {s:?} must be 1 to 128 of A-Z a-z 0-9 _ . - (starting with a letter or digit)"
                ),
            );
        }
        None => return skip(Skip::NoService, "the resource has no `service.name`".into()),
    };
    let Some((commit_attr, commit)) = config
        .commit_attributes
        .iter()
        .find_map(|k| text(resource, k).map(|v| (k.as_str(), v)))
    else {
        return skip(
            Skip::NoCommit,
            format!(
                "the resource of service {service:?} has no commit: set the resource attribute `{}` to the commit the service runs (e.g. OTEL_RESOURCE_ATTRIBUTES=vcs.ref.head.revision=<sha>)",
                config.commit_attributes.join("` or `")
            ),
        );
    };
    let commit = commit.to_ascii_lowercase();
    if !(7..=40).contains(&commit.len()) || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return skip(
            Skip::InvalidCommit,
            format!("`{commit_attr}` of service {service:?} is {commit:?}, not 7 to 40 hex digits"),
        );
    }
    let mut notes = Notes::new();
    let req = match inputs::read(request, config, &mut notes) {
        Ok(r) => r,
        Err((reason, detail)) => return skip(reason, format!("service {service:?}: {detail}")),
    };
    let hint =
        text(resource, "telemetry.sdk.language").or_else(|| text(resource, "process.runtime.name"));
    let symptom_input = symptom::Input {
        exception: failure.exception,
        error_type: text(&span.attrs, ERROR_TYPE).or_else(|| text(&request.attrs, ERROR_TYPE)),
        runtime_hint: hint,
        service,
        method: &req.method,
        route: &req.route,
        status_code: req.status_code,
    };
    let symptom = match symptom::build(&symptom_input, config, &mut notes) {
        Ok(s) => s,
        Err((reason, detail)) => return skip(reason, format!("service {service:?}: {detail}")),
    };
    // When the exception happened; a status-only failure: when its span ended.
    let when = failure
        .exception
        .map(|e| e.time)
        .filter(|t| *t > 0)
        .unwrap_or(if span.end > 0 { span.end } else { span.start });

    let mut svc = Map::new();
    svc.insert("name".into(), service.into());
    for (attr, field) in [
        ("service.version", "version"),
        ("service.namespace", "namespace"),
    ] {
        if let Some(v) = text(resource, attr) {
            svc.insert(field.into(), cut_chars(v, MAX_SERVICE_FIELD_CHARS).into());
        }
    }
    let mut identity = Map::new();
    identity.insert("trace_id".into(), trace_id.clone().into());
    identity.insert("span_id".into(), span_id.clone().into());
    identity.insert("service".into(), Value::Object(svc));
    identity.insert("commit".into(), commit.into());
    identity.insert("timestamp".into(), rfc3339(when).into());

    let mut envelope = Map::new();
    envelope.insert("schema_version".into(), SCHEMA_VERSION.into());
    // Deterministic: assembling the same failure twice gives the same id, so
    // the engine's idempotent intake takes it once.
    envelope.insert(
        "envelope_id".into(),
        format!("env-{trace_id}-{span_id}").into(),
    );
    envelope.insert("identity".into(), Value::Object(identity));
    envelope.insert("symptom".into(), symptom);
    envelope.insert("inputs".into(), Value::Object(req.inputs));
    if let Some(state) = environment::state(&request.attrs, &mut notes) {
        envelope.insert("state".into(), state);
    }
    if let Some(env) = environment::build(trace, &request.attrs, resource, &mut notes) {
        envelope.insert("environment".into(), env);
    }
    if let Some(timing) = timing::build(trace, config.max_spans, &mut notes) {
        envelope.insert("timing".into(), timing);
    }
    Ok(Outcome::Envelope {
        json: Value::Object(envelope),
        notes,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lower-case hex of an id of `len` bytes that is not all zero.
fn id_hex(bytes: &[u8], len: usize) -> Option<String> {
    (bytes.len() == len && bytes.iter().any(|b| *b != 0)).then(|| hex(bytes))
}

fn service_name_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}
