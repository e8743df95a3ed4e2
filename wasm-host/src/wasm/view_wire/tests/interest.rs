//! Views of the rows a guest declared it needs (`row-interest`): the wire
//! builder shows exactly the rows the decoded path shows, the ones the
//! interest picks, with their resources and scopes and nothing else; the
//! row index still lists every resource, scope, span and log record of the
//! request; and the checked builder still answers for the rows it skips as
//! pdata's scan would.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use super::{Rng, assert_same, checked_corpus_request, logs, traces};
use crate::wasm::interest::Interest;
use crate::wasm::layout_shared::{resource as rs, scope as sc};
use crate::wasm::view::BatchView;
use crate::wasm::view_wire::WireFallback;

/// Picks some of the generator's rows: its keys and names are made of
/// `a`, `http.method`, `GET`, ... (see `Rng::string`).
fn interest() -> Arc<Interest> {
    Arc::new(
        Interest::default()
            .span_event("a")
            .span_attribute_prefix("h")
            .log_attribute_prefix("ht")
            .log_event_name("GET"),
    )
}

fn with(interest: &Arc<Interest>) -> BatchView {
    let mut v = BatchView::default();
    v.set_interest(Some(interest.clone()));
    v
}

/// The wire builders (unchecked, validated) against the decoded path, all
/// with `interest`: the decoded view.
fn traces_views(
    interest: &Arc<Interest>,
    req: &ExportTraceServiceRequest,
    bytes: &[u8],
) -> BatchView {
    let mut decoded = with(interest);
    decoded.fill_traces(req);
    let mut wire = with(interest);
    wire.fill_traces_encoded(&[bytes])
        .expect("canonical bytes are built");
    assert_same(&wire, &decoded, "encoded");
    let mut trusted = with(interest);
    trusted.fill_traces_validated(&[bytes]).expect("built");
    assert_same(&trusted, &decoded, "validated");
    decoded
}

#[test]
fn only_the_rows_of_interest_are_shown_with_their_groups() {
    let mut rng = Rng(0x5eed_1001);
    let i = interest();
    let (mut shown, mut hidden) = (0, 0);
    for n in 0..1500 {
        let req = traces(&mut rng);
        let bytes = req.encode_to_vec();
        let view = traces_views(&i, &req, &bytes);
        let all = BatchView::from_traces(&req);
        // The index still covers the whole request.
        assert_eq!(view.index.resources, all.index.resources, "request {n}");
        assert_eq!(view.index.scopes, all.index.scopes, "request {n}");
        assert_eq!(view.index.spans, all.index.spans, "request {n}");
        let s = view.index.shown.as_ref().expect("an interest keeps a map");
        // The rows shown are those the interest picks, in request order.
        let want: Vec<u32> = all
            .index
            .spans
            .iter()
            .enumerate()
            .filter(|(_, (r, sg, p))| {
                let span =
                    &req.resource_spans[*r as usize].scope_spans[*sg as usize].spans[*p as usize];
                i.span(span)
            })
            .map(|(row, _)| row as u32)
            .collect();
        assert_eq!(s.spans, want, "request {n}");
        assert_eq!(view.shown_spans(), want.len());
        shown += want.len();
        hidden += all.span_count() - want.len();
        // Exactly the groups of shown spans, each once.
        let mut groups: Vec<u32> = want
            .iter()
            .map(|row| {
                let (r, sg, _) = all.index.spans[*row as usize];
                let full = all.index.scopes.iter().position(|x| *x == (r, sg));
                full.expect("the span's scope") as u32
            })
            .collect();
        groups.dedup();
        assert_eq!(s.scopes, groups, "request {n}");
        let mut resources: Vec<u32> = groups
            .iter()
            .map(|g| all.index.scopes[*g as usize].0)
            .collect();
        resources.dedup();
        assert_eq!(s.resources, resources, "request {n}");
        assert_eq!(view.resources.len(), resources.len() * rs::SIZE);
        assert_eq!(view.scopes.len(), groups.len() * sc::SIZE);
        // Events and links: those of the shown spans, by full span row.
        let events: Vec<(u32, u32)> = all
            .index
            .events
            .iter()
            .copied()
            .filter(|(span, _)| want.contains(span))
            .collect();
        assert_eq!(view.index.events, events, "request {n}");
    }
    assert!(
        shown > 500 && hidden > 500,
        "{shown} shown, {hidden} hidden"
    );
}

#[test]
fn log_records_of_interest_likewise() {
    let mut rng = Rng(0x5eed_1002);
    let i = interest();
    let (mut shown, mut hidden) = (0, 0);
    for n in 0..1500 {
        let req = logs(&mut rng);
        let bytes = req.encode_to_vec();
        let mut decoded = with(&i);
        decoded.fill_logs(&req);
        let mut wire = with(&i);
        wire.fill_logs_encoded(&[&bytes[..]]).expect("built");
        assert_same(&wire, &decoded, &format!("request {n}"));
        let all = BatchView::from_logs(&req);
        assert_eq!(decoded.index.logs, all.index.logs);
        let want: Vec<u32> = all
            .index
            .logs
            .iter()
            .enumerate()
            .filter(|(_, (r, sg, l))| {
                i.log(
                    &req.resource_logs[*r as usize].scope_logs[*sg as usize].log_records
                        [*l as usize],
                )
            })
            .map(|(row, _)| row as u32)
            .collect();
        let s = decoded.index.shown.as_ref().expect("a map");
        assert_eq!(s.logs, want, "request {n}");
        shown += want.len();
        hidden += all.log_count() - want.len();
    }
    assert!(
        shown > 500 && hidden > 500,
        "{shown} shown, {hidden} hidden"
    );
}

/// No interest: the view of old, every row, and no map.
#[test]
fn without_an_interest_every_row_is_shown() {
    let mut rng = Rng(0x5eed_1003);
    let req = traces(&mut rng);
    let mut v = with(&interest());
    v.fill_traces(&req);
    v.set_interest(None);
    v.fill_traces_encoded(&[req.encode_to_vec()])
        .expect("built");
    assert!(v.index.shown.is_none());
    assert_same(&v, &BatchView::from_traces(&req), "no interest");
    // An interest without span rules shows no span, resource or scope.
    let logs_only = Arc::new(Interest::default().all_logs());
    let mut v = with(&logs_only);
    v.fill_traces_encoded(&[req.encode_to_vec()])
        .expect("built");
    assert_eq!(v.shown_spans(), 0);
    assert!(v.resources.is_empty() && v.scopes.is_empty() && v.values.is_empty());
    assert_eq!(v.span_count(), BatchView::from_traces(&req).span_count());
}

/// The checked builder with an interest takes only what pdata's scan takes
/// whole, though it builds only some rows: shuffled, corrupted and
/// invalid-id requests (the generator makes ids of every length).
#[test]
fn the_checked_builder_with_an_interest_still_answers_for_every_row() {
    use pdata::{Batch, Signal};
    let mut rng = Rng(0x5eed_1004);
    let i = interest();
    let (mut taken, mut left) = (0, 0);
    for n in 0..3000 {
        let (bytes, traces_req) = checked_corpus_request(&mut rng, n);
        let mut v = with(&i);
        let (checked, signal) = if traces_req {
            (v.fill_traces_checked(&[&bytes[..]]), Signal::Traces)
        } else {
            (v.fill_logs_checked(&[&bytes[..]]), Signal::Logs)
        };
        let items = match checked {
            Ok(items) => items,
            Err(WireFallback) => {
                left += 1;
                continue;
            }
        };
        taken += 1;
        let received = Batch::from_protobuf(signal, prost::bytes::Bytes::copy_from_slice(&bytes))
            .unwrap_or_else(|e| panic!("checked bytes the receiver refuses ({e}): {bytes:?}"));
        let mut batch = received.batch;
        assert!(batch.validated(), "checked bytes the scan refuses");
        assert_eq!(received.rejected, 0, "checked bytes with items to remove");
        assert_eq!(batch.item_count(), items, "item count");
        let mut decoded = with(&i);
        match batch.payload() {
            pdata::Payload::Traces(r) => decoded.fill_traces(r),
            pdata::Payload::Logs(r) => decoded.fill_logs(r),
            pdata::Payload::Metrics(_) => unreachable!("a traces or logs batch"),
        }
        assert_same(&v, &decoded, "checked");
    }
    assert!(
        taken > 300 && left > 300,
        "both kinds ({taken} taken, {left} left)"
    );
    // An empty request is one.
    let mut v = with(&i);
    v.fill_logs_encoded::<&[u8]>(&[]).expect("empty");
    assert_eq!(v.log_count(), 0);
}
