//! What the holder reads of held items on the wire, without decoding them:
//! whether a span or log record shows an error, and whether a resource names
//! the commit the service runs (under one of the configured attributes).
//!
//! The error markers are read field by field, in the same walk of each item
//! as the split by trace id ([`crate::tail_sampling::wire::read_item`]): a
//! span fails when its status is `ERROR` or it has an `exception` event; a
//! log record is an exception record when it carries `exception.type` (the
//! semantic conventions' exception attributes on a log record). The receiver's
//! validating scan reads the same markers into its side index
//! ([`pdata::wire::index`]) when a pipeline asks for it; the holder then takes
//! them from there ([`crate::tail_sampling::wire::split_indexed`]).

use pdata::wire::field::{self, key_value, resource, status};
use pdata::wire::index::{EXCEPTION_EVENT, EXCEPTION_TYPE};
use pdata::wire::{self, Reader, WireError};

/// `Status.code` of an error (one definition with the receiver's side index,
/// which reads the same markers in its scan: [`pdata::wire::index`]).
pub(crate) use pdata::wire::index::STATUS_CODE_ERROR;

/// The last `code` of an encoded `Status`, if it has one.
pub(crate) fn status_code(st: &[u8]) -> Result<Option<u64>, WireError> {
    let mut code = None;
    let mut r = Reader::new(st);
    while !r.done() {
        let (tag, wt) = r.key()?;
        if tag == status::CODE {
            code = Some(r.varint_field(wt)?);
        } else {
            r.skip(wt)?;
        }
    }
    Ok(code)
}

/// Whether an encoded `Span.Event` is named `exception`.
pub(crate) fn is_exception_event(event: &[u8]) -> Result<bool, WireError> {
    Ok(wire::last_field(event, field::event::NAME)? == Some(EXCEPTION_EVENT))
}

/// Whether an encoded `KeyValue` is the attribute `exception.type`.
pub(crate) fn is_exception_type(kv: &[u8]) -> Result<bool, WireError> {
    Ok(wire::last_field(kv, key_value::KEY)? == Some(EXCEPTION_TYPE))
}

/// Whether an encoded `Resource` carries one of `keys` (the commit
/// attributes, [`super::commit::commit_attributes`]).
pub(crate) fn resource_has_commit(res: &[u8], keys: &[String]) -> Result<bool, WireError> {
    has_any_attribute(res, resource::ATTRIBUTES, keys)
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
    use crate::tail_sampling::buffer::Item;
    use crate::tail_sampling::wire::{Markers, WireError, read_item};

    /// The markers as the split reads them, item by item.
    fn span_has_error(span: &[u8]) -> Result<bool, WireError> {
        read_item(span, Item::Span, Markers::Errors).map(|(_, error)| error)
    }

    fn log_has_exception(record: &[u8]) -> Result<bool, WireError> {
        read_item(record, Item::Log, Markers::Errors).map(|(_, error)| error)
    }

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
