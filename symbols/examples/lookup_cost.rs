//! Lookup cost per query on a real index file: `cargo run --release -p symbols
//! --example lookup_cost -- FILE [ROUNDS]`. The queries come from the index itself
//! (every file, lines spread over each file; every definition's qualified name), so
//! any index can be measured; results are checked so the work is not optimized away.

use std::time::Instant;

use symbols::Index;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: lookup_cost FILE [ROUNDS]")?;
    let rounds: u32 = args.next().map(|r| r.parse()).transpose()?.unwrap_or(20);
    let bytes = std::fs::read(&path)?;

    let t = Instant::now();
    let mut parsed = 0;
    for _ in 0..1000 {
        parsed += Index::parse(&bytes)?.file_count();
    }
    let parse_ns = t.elapsed().as_nanos() as f64 / 1000.0;
    let idx = Index::parse(&bytes)?;

    // (path, line) queries: 16 lines spread over each file's module definition.
    let mut frames = Vec::new();
    let mut qnames = Vec::new();
    for i in 0..idx.file_count() as u32 {
        let f = idx.file_at(i)?;
        let defs = idx.file_definitions(&f)?;
        let last = defs.first().map_or(1, |m| m.end_line);
        for k in 0..16 {
            frames.push((f.path, 1 + last * k / 16));
        }
        qnames.extend(defs.iter().map(|d| d.qualified_name));
    }

    let time =
        |name: &str, n: usize, f: &mut dyn FnMut() -> Result<usize, symbols::FormatError>| {
            let mut hits = 0;
            let t = Instant::now();
            for _ in 0..rounds {
                hits += f()?;
            }
            let per = t.elapsed().as_nanos() as f64 / (f64::from(rounds) * n as f64);
            println!("{name}: {per:.0} ns per query ({n} queries x {rounds} rounds, {hits} hits)");
            Ok::<(), symbols::FormatError>(())
        };
    time("definition_at", frames.len(), &mut || {
        let mut hits = 0;
        for (p, l) in &frames {
            hits += usize::from(idx.definition_at(p, *l)?.is_some());
        }
        Ok(hits)
    })?;
    time("contains_file", frames.len(), &mut || {
        let mut hits = 0;
        for (p, _) in &frames {
            hits += usize::from(idx.contains_file(p)?);
        }
        Ok(hits)
    })?;
    time("owners", frames.len(), &mut || {
        let mut hits = 0;
        for (p, _) in &frames {
            hits += idx.owners(p)?.map_or(0, |o| o.len());
        }
        Ok(hits)
    })?;
    time("definitions_by_qualified_name", qnames.len(), &mut || {
        let mut hits = 0;
        for q in &qnames {
            hits += idx.definitions_by_qualified_name(q)?.len();
        }
        Ok(hits)
    })?;
    println!(
        "parse (header and section table): {parse_ns:.0} ns ({} files, {} definitions, {} bytes; checksum {parsed})",
        idx.file_count(),
        idx.definition_count(),
        bytes.len()
    );
    Ok(())
}
