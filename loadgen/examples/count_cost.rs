//! Measures what the sink pays per request to count items: the wire-format walk it
//! uses versus a full prost decode. Run with
//! `cargo run --release -p loadgen --example count_cost [spans] [iterations]`.

use std::hint::black_box;
use std::time::Instant;

use loadgen::encode::{Encoding, encode};
use loadgen::generate::{Generator, Shape, Signal};
use loadgen::sink::count::{count_json, count_proto};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let spans: usize = args.next().map_or(Ok(512), |a| a.parse())?;
    let iterations: u32 = args.next().map_or(Ok(2_000), |a| a.parse())?;
    let request = Generator::new(Shape::default(), 1, 0).request(Signal::Traces, spans);
    let proto = encode(&request, Encoding::Proto)?;
    let json = encode(&request, Encoding::Json)?;
    println!(
        "{spans} spans, 10 attributes of 16 B: {} B protobuf, {} B JSON",
        proto.len(),
        json.len()
    );

    let time = |name: &str, f: &mut dyn FnMut() -> u64| {
        let start = Instant::now();
        let mut total = 0;
        for _ in 0..iterations {
            total += black_box(f());
        }
        let per_request = start.elapsed() / iterations;
        let spans_per_s = total as f64 / (per_request.as_secs_f64() * f64::from(iterations));
        println!("{name:<22} {per_request:>12.2?}/request  {spans_per_s:>14.0} spans/s");
    };
    time("count_proto (walk)", &mut || {
        count_proto(black_box(&proto)).unwrap_or(0)
    });
    time("prost decode", &mut || {
        ExportTraceServiceRequest::decode(black_box(proto.as_slice()))
            .map_or(0, |r| r.resource_spans[0].scope_spans[0].spans.len() as u64)
    });
    time("count_json (skip)", &mut || {
        count_json(Signal::Traces, black_box(&json)).unwrap_or(0)
    });
    Ok(())
}
