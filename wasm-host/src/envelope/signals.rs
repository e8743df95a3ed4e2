//! What the holder reads of held items on the wire, without decoding them:
//! whether a span or log record shows an error, and whether a resource names
//! the commit the service runs (under one of the configured attributes).

use pdata::wire::field::{self, key_value, log_record, resource, span, status};
use pdata::wire::{self, Reader, WireError};

/// `Status.code` of an error.
const STATUS_CODE_ERROR: u64 = 2;

/// A span fails when its status is `ERROR` or it has an `exception` event.
pub(crate) fn span_has_error(span_msg: &[u8]) -> Result<bool, WireError> {
    if let Some(st) = wire::last_field(span_msg, span::STATUS)? {
        let mut r = Reader::new(st);
        while !r.done() {
            let (tag, wt) = r.key()?;
            if tag == status::CODE {
                if r.varint_field(wt)? == STATUS_CODE_ERROR {
                    return Ok(true);
                }
            } else {
                r.skip(wt)?;
            }
        }
    }
    let mut found = false;
    wire::for_each_field(span_msg, span::EVENTS, |event| {
        if !found && wire::last_field(event, field::event::NAME)? == Some(b"exception".as_slice()) {
            found = true;
        }
        Ok::<(), WireError>(())
    })?;
    Ok(found)
}

/// A log record is an exception record when it carries `exception.type`
/// (the semantic conventions' exception attributes on a log record).
pub(crate) fn log_has_exception(record: &[u8]) -> Result<bool, WireError> {
    has_attribute(record, log_record::ATTRIBUTES, "exception.type")
}

/// Whether an encoded `Resource` carries one of `keys` (the commit
/// attributes, [`super::commit::commit_attributes`]).
pub(crate) fn resource_has_commit(res: &[u8], keys: &[String]) -> Result<bool, WireError> {
    has_any_attribute(res, resource::ATTRIBUTES, keys)
}

/// Whether the message `msg` has an attribute (`KeyValue` in field `tag`)
/// named `key`.
fn has_attribute(msg: &[u8], tag: u32, key: &str) -> Result<bool, WireError> {
    has_any_attribute(msg, tag, std::slice::from_ref(&key))
}

/// Whether the message `msg` has an attribute (`KeyValue` in field `tag`)
/// named one of `keys`.
fn has_any_attribute<K: AsRef<str>>(msg: &[u8], tag: u32, keys: &[K]) -> Result<bool, WireError> {
    let mut found = false;
    wire::for_each_field(msg, tag, |kv| {
        if !found && let Some(name) = wire::last_field(kv, key_value::KEY)? {
            found = keys.iter().any(|k| k.as_ref().as_bytes() == name);
        }
        Ok::<(), WireError>(())
    })?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::logs::v1::LogRecord;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{Span, Status, span::Event};
    use prost::Message;

    use super::*;
    use crate::envelope::commit::COMMIT_ATTRIBUTE;

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn spans_fail_by_status_or_exception_event() {
        let ok = Span {
            name: "ok".into(),
            status: Some(Status {
                code: 1,
                message: String::new(),
            }),
            events: vec![Event {
                name: "cache miss".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(!span_has_error(&ok.encode_to_vec()).expect("reads"));
        let mut by_status = ok.clone();
        by_status.status = Some(Status {
            code: 2,
            message: "boom".into(),
        });
        assert!(span_has_error(&by_status.encode_to_vec()).expect("reads"));
        let mut by_event = ok.clone();
        by_event.events.push(Event {
            name: "exception".into(),
            ..Default::default()
        });
        assert!(span_has_error(&by_event.encode_to_vec()).expect("reads"));
        assert!(span_has_error(&[0x7a, 0x05, 1]).is_err());
    }

    #[test]
    fn exception_log_records_and_commit_attributes_are_found() {
        let plain = LogRecord {
            attributes: vec![kv("exception.message", "no type")],
            ..Default::default()
        };
        assert!(!log_has_exception(&plain.encode_to_vec()).expect("reads"));
        let mut exc = plain.clone();
        exc.attributes.push(kv("exception.type", "KeyError"));
        assert!(log_has_exception(&exc.encode_to_vec()).expect("reads"));
        let default = [COMMIT_ATTRIBUTE.to_owned()];
        let res = Resource {
            attributes: vec![kv("service.name", "a"), kv(COMMIT_ATTRIBUTE, "9fceb02")],
            ..Default::default()
        };
        assert!(resource_has_commit(&res.encode_to_vec(), &default).expect("reads"));
        let bare = Resource {
            attributes: vec![kv("service.name", "a")],
            ..Default::default()
        };
        assert!(!resource_has_commit(&bare.encode_to_vec(), &default).expect("reads"));
        // Another configured name: found under it, and the default alone no longer counts.
        let git = Resource {
            attributes: vec![kv("service.name", "a"), kv("git.commit.sha", "9fceb02")],
            ..Default::default()
        };
        let custom = ["git.commit.sha".to_owned()];
        assert!(resource_has_commit(&git.encode_to_vec(), &custom).expect("reads"));
        assert!(!resource_has_commit(&git.encode_to_vec(), &default).expect("reads"));
        assert!(!resource_has_commit(&res.encode_to_vec(), &custom).expect("reads"));
    }
}
