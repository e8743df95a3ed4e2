//! Parses a stack trace from stdin and prints the frames:
//! `python3 x.py 2>&1 | cargo run -p stacktrace --example parse [-- HINT]`.

use std::io::Read;

fn main() -> std::io::Result<()> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let hint = std::env::args().nth(1);
    let parsed = stacktrace::Parser::new().parse(&text, hint.as_deref());
    let runtime = parsed.runtime.map_or("unknown", |r| r.as_str());
    let problems: Vec<&str> = parsed.problems.iter().map(|p| p.as_str()).collect();
    println!("runtime: {runtime}  problems: {problems:?}");
    for (i, e) in parsed.exceptions.iter().enumerate() {
        println!(
            "[{i}] {:?} parent={:?} {}: {}",
            e.relation,
            e.parent,
            e.ty.as_deref().unwrap_or("?"),
            e.message.as_deref().unwrap_or("")
        );
        for f in &e.frames {
            println!(
                "    {} {}{}{} at {}:{}{}",
                if f.in_app { "app" } else { "   " },
                f.module.as_deref().unwrap_or(""),
                if f.module.is_some() { " " } else { "" },
                f.function.as_deref().unwrap_or("?"),
                f.file.as_deref().unwrap_or("?"),
                f.line.map_or(String::from("?"), |l| l.to_string()),
                f.column.map_or(String::new(), |c| format!(":{c}")),
            );
        }
        println!("    fingerprint {}", stacktrace::fingerprint(e, &[]));
    }
    Ok(())
}
