//! An item (span or log record) whose only edits set or remove its own
//! attributes, rewritten from its received bytes: no prost decoding of the
//! item and no `AnyValue` trees. Its attributes are listed from the bytes
//! (each one's key read as prost reads it), the edits change the list as
//! [`super::super::apply`] changes a decoded item's (a set replaces the value
//! of the first attribute with its key, else appends; a remove drops every
//! one), and the item is written again: every other field as received, the
//! attributes where the first one was (at the end if there was none), a
//! received attribute as received, a new value encoded straight from the
//! guest's nodes ([`Encoder`]). Decoded, that is the item the decoded path
//! gives; only field order and unknown fields (kept) can differ from prost's
//! encoding of it.

use pdata::wire::field::key_value as kv;
use pdata::wire::{Reader, WireError};

use super::super::Node;
use super::super::encode::{Encoder, field_len, put_len};

/// One attribute edit of an item, in list order.
#[derive(Debug, Clone, Copy)]
pub(super) enum AttrEdit<'a> {
    /// Sets `key` (replaces the first attribute with it, else appends).
    Set(&'a str, Node<'a>),
    /// Removes every attribute with key `key`.
    Remove(&'a str),
}

/// One attribute of the rewritten item.
enum Attr<'b, 'e> {
    /// As received: the whole field (key, length, payload).
    Kept { key: &'b [u8], field: &'b [u8] },
    /// Received, with a new value: the `KeyValue`'s other fields are kept,
    /// as prost keeps them when the decoded path sets `value`.
    Revalued {
        key: &'b [u8],
        body: &'b [u8],
        value: Node<'e>,
    },
    /// Appended by a set.
    New { key: &'e str, value: Node<'e> },
}

impl Attr<'_, '_> {
    fn key(&self) -> &[u8] {
        match self {
            Attr::Kept { key, .. } | Attr::Revalued { key, .. } => key,
            Attr::New { key, .. } => key.as_bytes(),
        }
    }
}

/// The key prost decodes from a `KeyValue`'s payload: the last `key` field,
/// `""` without one; an error where prost would refuse the key.
fn kv_key(body: &[u8]) -> Result<&[u8], WireError> {
    let mut key: &[u8] = &[];
    let mut r = Reader::new(body);
    while !r.done() {
        let (tag, wt) = r.key()?;
        if tag == kv::KEY {
            key = r.string(wt)?;
        } else {
            r.skip(wt)?;
        }
    }
    Ok(key)
}

/// Appends the payload of `item` (an encoded span or log record whose
/// attributes are field `attributes`) with `edits` applied to `out`.
pub(super) fn rewrite(
    item: &[u8],
    attributes: u32,
    edits: &[AttrEdit<'_>],
    enc: &mut Encoder,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    let mut attrs = Vec::new();
    let mut r = Reader::new(item);
    while !r.done() {
        let from = r.pos();
        let (tag, wt) = r.key()?;
        if tag == attributes {
            let body = r.message(wt)?;
            attrs.push(Attr::Kept {
                key: kv_key(body)?,
                field: &item[from..r.pos()],
            });
        } else {
            r.skip(wt)?;
        }
    }
    for edit in edits {
        match *edit {
            AttrEdit::Set(key, value) => {
                match attrs.iter_mut().find(|a| a.key() == key.as_bytes()) {
                    Some(a) => {
                        *a = match *a {
                            Attr::Kept { key, field } => {
                                // The payload, past the field's key and length.
                                let mut f = Reader::new(field);
                                let (_, wt) = f.key()?;
                                let body = f.message(wt)?;
                                Attr::Revalued { key, body, value }
                            }
                            Attr::Revalued { key, body, .. } => Attr::Revalued { key, body, value },
                            Attr::New { key, .. } => Attr::New { key, value },
                        }
                    }
                    None => attrs.push(Attr::New { key, value }),
                }
            }
            AttrEdit::Remove(key) => attrs.retain(|a| a.key() != key.as_bytes()),
        }
    }
    let mut written = false;
    let mut r = Reader::new(item);
    while !r.done() {
        let from = r.pos();
        let (tag, wt) = r.key()?;
        r.skip(wt)?;
        if tag != attributes {
            out.extend_from_slice(&item[from..r.pos()]);
        } else if !written {
            write_attrs(&attrs, attributes, enc, out)?;
            written = true;
        }
    }
    if !written {
        write_attrs(&attrs, attributes, enc, out)?;
    }
    Ok(())
}

fn write_attrs(
    attrs: &[Attr<'_, '_>],
    attributes: u32,
    enc: &mut Encoder,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    for a in attrs {
        match a {
            Attr::Kept { field, .. } => out.extend_from_slice(field),
            Attr::Revalued { body, value, .. } => {
                // The payload's fields but the value, then the new value.
                let mut kept = 0;
                let mut r = Reader::new(body);
                while !r.done() {
                    let from = r.pos();
                    let (tag, wt) = r.key()?;
                    r.skip(wt)?;
                    if tag != kv::VALUE {
                        kept += r.pos() - from;
                    }
                }
                let len = enc.any_len(value, value.index);
                put_len(attributes, kept + field_len(kv::VALUE, len), out);
                let mut r = Reader::new(body);
                while !r.done() {
                    let from = r.pos();
                    let (tag, wt) = r.key()?;
                    r.skip(wt)?;
                    if tag != kv::VALUE {
                        out.extend_from_slice(&body[from..r.pos()]);
                    }
                }
                put_len(kv::VALUE, len, out);
                enc.write_value(value, out);
            }
            Attr::New { key, value } => {
                let len = enc.any_len(value, value.index);
                // prost leaves an empty key out.
                let key_field = if key.is_empty() {
                    0
                } else {
                    field_len(kv::KEY, key.len())
                };
                put_len(attributes, key_field + field_len(kv::VALUE, len), out);
                if !key.is_empty() {
                    put_len(kv::KEY, key.len(), out);
                    out.extend_from_slice(key.as_bytes());
                }
                put_len(kv::VALUE, len, out);
                enc.write_value(value, out);
            }
        }
    }
    Ok(())
}
