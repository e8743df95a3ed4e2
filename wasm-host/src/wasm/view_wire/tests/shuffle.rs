//! Re-encodings of generated requests with their fields in another order
//! (and with unknown fields and overridden scalars): the builder must still
//! build the decoded path's view.

use super::*;

/// Message kinds, for re-encoding with the fields in another order.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    TracesRequest,
    LogsRequest,
    ResourceSpans,
    ResourceLogs,
    Resource,
    ScopeSpans,
    ScopeLogs,
    Scope,
    Span,
    Event,
    Link,
    Status,
    Log,
    KeyValue,
    AnyValue,
    List,
    KvList,
    Leaf,
}

/// The kind of message field `tag` of `kind` holds, if it is a message.
fn child(kind: Kind, tag: u32) -> Option<Kind> {
    use Kind::*;
    Some(match (kind, tag) {
        (TracesRequest, 1) => ResourceSpans,
        (LogsRequest, 1) => ResourceLogs,
        (ResourceSpans | ResourceLogs, 1) => Resource,
        (ResourceSpans, 2) => ScopeSpans,
        (ResourceLogs, 2) => ScopeLogs,
        (Resource, 1) | (Scope, 3) | (Span, 9) | (Event, 3) | (Link, 4) | (Log, 6) => KeyValue,
        (Resource, 3) => Leaf,
        (ScopeSpans | ScopeLogs, 1) => Scope,
        (ScopeSpans, 2) => Span,
        (ScopeLogs, 2) => Log,
        (Span, 11) => Event,
        (Span, 13) => Link,
        (Span, 15) => Status,
        (Log, 5) | (KeyValue, 2) | (List, 1) => AnyValue,
        (AnyValue, 5) => List,
        (AnyValue, 6) => KvList,
        (KvList, 1) => KeyValue,
        _ => return None,
    })
}

/// One field of a message: key, and the payload re-encoded.
struct Field {
    tag: u32,
    wt: u64,
    body: Vec<u8>,
}

fn read_varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    for i in 0..10 {
        let b = buf[*pos];
        *pos += 1;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            break;
        }
    }
    v
}

/// Re-encodes `buf` (a `kind` message) with its fields in a random order that
/// keeps each repeated field's own order, recursively; with `extra`, adds
/// unknown fields and overridden earlier copies of singular scalars, which
/// prost ignores and overwrites.
pub(crate) fn shuffle(rng: &mut Rng, buf: &[u8], kind: Kind, extra: bool) -> Vec<u8> {
    let mut fields = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let key = read_varint(buf, &mut pos);
        let (tag, wt) = ((key >> 3) as u32, key & 7);
        let body = match wt {
            0 => {
                let start = pos;
                read_varint(buf, &mut pos);
                buf[start..pos].to_vec()
            }
            1 => {
                pos += 8;
                buf[pos - 8..pos].to_vec()
            }
            5 => {
                pos += 4;
                buf[pos - 4..pos].to_vec()
            }
            _ => {
                let len = read_varint(buf, &mut pos) as usize;
                let inner = &buf[pos..pos + len];
                pos += len;
                match child(kind, tag) {
                    Some(k) => shuffle(rng, inner, k, extra),
                    None => inner.to_vec(),
                }
            }
        };
        fields.push(Field { tag, wt, body });
    }
    if extra {
        let mut with = Vec::with_capacity(fields.len() + 2);
        for f in fields {
            // AnyValue scalars are oneof members: a second one is refused.
            if kind != Kind::AnyValue && f.wt != 2 && rng.chance(3) {
                let junk = match f.wt {
                    0 => vec![0x7f],
                    1 => vec![9; 8],
                    _ => vec![9; 4],
                };
                // Before the real one, which is the last and so counts.
                with.push(Field {
                    tag: f.tag,
                    wt: f.wt,
                    body: junk,
                });
            }
            with.push(f);
        }
        fields = with;
        if rng.chance(2) {
            let (wt, body) = match rng.below(4) {
                0 => (0, vec![5]),
                1 => (1, vec![0; 8]),
                2 => (2, b"unknown".to_vec()),
                _ => (5, vec![1, 2, 3, 4]),
            };
            fields.push(Field {
                tag: 1000 + rng.below(100) as u32,
                wt,
                body,
            });
        }
    }
    // A random order, then each tag's fields put back in their own order.
    let mut order: Vec<usize> = (0..fields.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let tags: Vec<u32> = order.iter().map(|&i| fields[i].tag).collect();
    let mut queues: std::collections::HashMap<u32, std::collections::VecDeque<Field>> =
        Default::default();
    for f in fields {
        queues.entry(f.tag).or_default().push_back(f);
    }
    let mut out = Vec::with_capacity(buf.len());
    for tag in tags {
        let f = queues
            .get_mut(&tag)
            .and_then(|q| q.pop_front())
            .expect("one per slot");
        encode_varint(u64::from(f.tag) << 3 | f.wt, &mut out);
        if f.wt == 2 {
            encode_varint(f.body.len() as u64, &mut out);
        }
        out.extend_from_slice(&f.body);
    }
    out
}

#[test]
fn shuffled_encodings_build_the_decoded_view() {
    let mut rng = Rng(0x5eed_0004);
    for n in 0..600 {
        let extra = n % 2 == 1;
        let req = traces(&mut rng);
        let bytes = shuffle(&mut rng, &req.encode_to_vec(), Kind::TracesRequest, extra);
        let decoded = ExportTraceServiceRequest::decode(&bytes[..]).expect("prost decodes");
        assert_eq!(decoded, req, "the shuffle keeps the content");
        let wire = wire_traces(&[bytes]).expect("a reordered encoding is built");
        assert_same(&wire, &BatchView::from_traces(&req), &format!("traces {n}"));

        let req = logs(&mut rng);
        let bytes = shuffle(&mut rng, &req.encode_to_vec(), Kind::LogsRequest, extra);
        let decoded = ExportLogsServiceRequest::decode(&bytes[..]).expect("prost decodes");
        assert_eq!(decoded, req, "the shuffle keeps the content");
        let wire = wire_logs(&[bytes]).expect("a reordered encoding is built");
        assert_same(&wire, &BatchView::from_logs(&req), &format!("logs {n}"));
    }
}
