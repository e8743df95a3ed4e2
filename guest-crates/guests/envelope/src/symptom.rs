//! `symptom`: the exception (type, redacted message and its hash, frames
//! parsed from `exception.stacktrace`) and the grouping fingerprint.
//!
//! The fingerprint is [`stacktrace::fingerprint`] (exception type plus the
//! in-app frames' file and function, innermost first, no line numbers) with
//! the service and `METHOD route` as its extra parts: one failure at one
//! place in the code of one endpoint is one group, across deploys that only
//! move lines.

use serde_json::{Map, Value, json};
use stacktrace::{Exception, Frame, Parser, Problem};

use crate::config::Config;
use crate::failure::Recorded;
use crate::message::{self, cut_chars};
use crate::outcome::{Note, Notes, Skip};

const MAX_TYPE_CHARS: usize = 256;
const MAX_FUNCTION_CHARS: usize = 512;
const MAX_MODULE_CHARS: usize = 512;
const MAX_FILE_CHARS: usize = 1024;

/// What the symptom is built from.
pub(crate) struct Input<'a> {
    /// The recorded exception, if any.
    pub(crate) exception: Option<Recorded<'a>>,
    /// The failing span's `error.type`.
    pub(crate) error_type: Option<&'a str>,
    /// A runtime hint (`telemetry.sdk.language`, `process.runtime.name`).
    pub(crate) runtime_hint: Option<&'a str>,
    /// `service.name`, `METHOD`, route: the fingerprint's extra parts.
    pub(crate) service: &'a str,
    pub(crate) method: &'a str,
    pub(crate) route: &'a str,
    pub(crate) status_code: Option<i64>,
}

/// Builds `symptom`, or the skip when nothing names the failure's type.
pub(crate) fn build(
    input: &Input<'_>,
    config: &Config,
    notes: &mut Notes,
) -> Result<Value, (Skip, String)> {
    let rec = input.exception;
    let parsed = match rec.and_then(|r| r.stacktrace) {
        Some(text) => {
            let prefixes = &config.in_app_prefixes;
            let in_repo = |path: &str| {
                prefixes
                    .iter()
                    .any(|p| path == p.trim_end_matches('/') || path.starts_with(&with_slash(p)))
            };
            let mut parser = Parser::new().normalizer(config.normalizer.clone());
            if !prefixes.is_empty() {
                parser = parser.in_app(&in_repo);
            }
            let parsed = parser.parse(text, input.runtime_hint);
            if parsed.problems.contains(&Problem::UnknownFormat)
                || parsed.problems.contains(&Problem::Empty)
            {
                notes.insert(Note::StacktraceUnparsed);
            } else if parsed
                .problems
                .iter()
                .any(|p| !matches!(p, Problem::HintMismatch))
            {
                notes.insert(Note::StacktracePartial);
            }
            Some(parsed)
        }
        None => {
            if rec.is_some() {
                notes.insert(Note::NoStacktrace);
            }
            None
        }
    };
    let failure = parsed.as_ref().and_then(|p| p.failure());
    let ty = rec
        .and_then(|r| r.ty)
        .or(input.error_type)
        .or_else(|| failure.and_then(|f| f.ty.as_deref()))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            (
                Skip::NoExceptionType,
                "the failing span has no `exception` event with `exception.type` (nor `error.type`)".to_owned(),
            )
        })?;
    let message = rec
        .and_then(|r| r.message)
        .or_else(|| failure.and_then(|f| f.message.as_deref()));
    let frames: &[Frame] = failure.map_or(&[], |f| &f.frames);
    if frames.len() > config.max_frames {
        notes.insert(Note::FramesCapped);
    }
    let mut exception = Map::new();
    exception.insert("type".into(), cut_chars(ty, MAX_TYPE_CHARS).into());
    if let Some(m) = message {
        exception.insert("message_redacted".into(), message::redact(m).into());
        exception.insert("message_hash".into(), message::hash(m).into());
    }
    exception.insert(
        "frames".into(),
        frames
            .iter()
            .take(config.max_frames)
            .map(frame_json)
            .collect(),
    );
    // The fingerprint hashes the type the envelope names and the message as
    // redacted (used only when no frame was read), so that it agrees with
    // what the envelope shows.
    let grouped = Exception {
        ty: Some(ty.to_owned()),
        message: message.map(message::redact),
        frames: frames.to_vec(),
        ..Exception::default()
    };
    let service = format!("service:{}", input.service);
    let route = format!("route:{} {}", input.method, input.route);
    let fingerprint = stacktrace::fingerprint(&grouped, &[&service, &route]);
    let mut symptom = Map::new();
    symptom.insert("exception".into(), Value::Object(exception));
    symptom.insert("fingerprint".into(), fingerprint.to_string().into());
    if let Some(code) = input.status_code {
        symptom.insert("status_code".into(), code.into());
    }
    Ok(Value::Object(symptom))
}

fn with_slash(p: &str) -> String {
    format!("{}/", p.trim_end_matches('/'))
}

fn frame_json(f: &Frame) -> Value {
    let function = f
        .function
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or("<unknown>");
    let mut o = json!({
        "function": cut_chars(function, MAX_FUNCTION_CHARS),
        "in_app": f.in_app,
    });
    if let Some(map) = o.as_object_mut() {
        if let Some(file) = f.file.as_deref().filter(|s| !s.is_empty()) {
            map.insert("file".into(), cut_chars(file, MAX_FILE_CHARS).into());
        }
        if let Some(line) = f.line {
            map.insert("line".into(), line.into());
        }
        if let Some(module) = f.module.as_deref().filter(|s| !s.is_empty()) {
            map.insert("module".into(), cut_chars(module, MAX_MODULE_CHARS).into());
        }
    }
    o
}
