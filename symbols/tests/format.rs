//! Round trips through the writer and reader, lookups against the input's truth,
//! and corrupt or truncated files.

use symbols::{
    CommitInfo, DefKind, DefinitionInput, EdgeInput, EdgeKind, FileInput, FormatError, Index,
    IndexWriter, Language, layout, symbol_id,
};

fn def(
    start: u32,
    end: u32,
    kind: DefKind,
    name: &str,
    qname: &str,
    parent: Option<usize>,
) -> DefinitionInput {
    DefinitionInput {
        start_line: start,
        end_line: end,
        kind,
        name: name.into(),
        qualified_name: qname.into(),
        parent,
        last_change: None,
    }
}

fn call(from: usize, target: &str, line: u32) -> EdgeInput {
    EdgeInput {
        from,
        kind: EdgeKind::Call,
        target: target.into(),
        line,
    }
}

/// Two files; definitions given out of order on purpose.
fn sample() -> Vec<u8> {
    let mut w = IndexWriter::new("c0ffee", 1_700_000_000, "test");
    let old = w.add_commit(CommitInfo {
        sha: "aaaa".into(),
        author: "A <a@x>".into(),
        time: 100,
    });
    let new = w.add_commit(CommitInfo {
        sha: "bbbb".into(),
        author: "B <b@x>".into(),
        time: 200,
    });
    let mut models = vec![
        def(5, 20, DefKind::Class, "User", "app.models.User", Some(2)),
        def(
            8,
            12,
            DefKind::Method,
            "save",
            "app.models.User.save",
            Some(0),
        ),
        def(1, 40, DefKind::Module, "models", "app.models", None),
        def(
            14,
            20,
            DefKind::Method,
            "load",
            "app.models.User.load",
            Some(0),
        ),
        def(
            25,
            30,
            DefKind::Function,
            "helper",
            "app.models.helper",
            Some(2),
        ),
        // One-line function nested in a one-line class: same range, parent first.
        def(33, 33, DefKind::Class, "K", "app.models.K", Some(2)),
        def(33, 33, DefKind::Function, "k", "app.models.K.k", Some(5)),
    ];
    models[1].last_change = Some(new);
    models[3].last_change = Some(old);
    w.add_file(FileInput {
        path: "app/models.py".into(),
        language: Language::Python,
        owners: vec!["@org/data".into(), "dev@example.com".into()],
        definitions: models,
        edges: vec![
            call(1, "helper", 10),
            call(1, "validate", 11),
            call(3, "helper", 16),
            EdgeInput {
                from: 2,
                kind: EdgeKind::Import,
                target: "os.path".into(),
                line: 1,
            },
        ],
    });
    w.add_file(FileInput {
        path: "app/api.py".into(),
        language: Language::Python,
        owners: vec![],
        definitions: vec![
            def(1, 9, DefKind::Module, "api", "app.api", None),
            def(3, 9, DefKind::Function, "handle", "app.api.handle", Some(0)),
        ],
        edges: vec![call(1, "save", 4)],
    });
    w.finish().expect("valid input")
}

#[test]
fn innermost_definition_at_every_line() {
    let bytes = sample();
    let idx = Index::parse(&bytes).expect("parses");
    let want = |line: u32| -> Option<&str> {
        Some(match line {
            8..=12 => "app.models.User.save",
            14..=20 => "app.models.User.load",
            5..=7 | 13 => "app.models.User",
            25..=30 => "app.models.helper",
            33 => "app.models.K.k",
            1..=40 => "app.models",
            _ => return None,
        })
    };
    for line in 0..=45 {
        let got = idx.definition_at("app/models.py", line).expect("lookup");
        assert_eq!(got.map(|d| d.qualified_name), want(line), "line {line}");
    }
    assert_eq!(idx.definition_at("app/nope.py", 3).expect("lookup"), None);
    let save = idx
        .definition_at("app/models.py", 9)
        .expect("lookup")
        .expect("found");
    assert_eq!(save.kind, DefKind::Method);
    assert_eq!(save.name, "save");
    assert_eq!((save.start_line, save.end_line), (8, 12));
    assert_eq!(save.language, Language::Python);
    assert_eq!(
        save.last_change.map(|c| (c.sha, c.time)),
        Some(("bbbb", 200))
    );
    assert_eq!(
        save.symbol_id,
        symbol_id(Language::Python, "app/models.py", "app.models.User.save")
    );
    let parent = idx
        .definition(save.parent.expect("has parent"))
        .expect("parent");
    assert_eq!(parent.qualified_name, "app.models.User");
}

#[test]
fn files_owners_names_and_meta() {
    let bytes = sample();
    let idx = Index::parse(&bytes).expect("parses");
    assert_eq!(idx.commit().expect("meta"), "c0ffee");
    assert_eq!(idx.commit_time().expect("meta"), 1_700_000_000);
    assert_eq!(idx.file_count(), 2);
    assert_eq!(idx.definition_count(), 9);
    assert!(idx.contains_file("app/api.py").expect("lookup"));
    assert!(!idx.contains_file("app/api").expect("lookup"));
    assert!(!idx.contains_file("").expect("lookup"));
    assert_eq!(
        idx.owners("app/models.py").expect("lookup"),
        Some(vec!["@org/data", "dev@example.com"])
    );
    assert_eq!(idx.owners("app/api.py").expect("lookup"), Some(vec![]));
    assert_eq!(idx.owners("other.py").expect("lookup"), None);
    let named = idx
        .definitions_by_qualified_name("app.models.User.load")
        .expect("lookup");
    assert_eq!(named.len(), 1);
    assert_eq!(named[0].start_line, 14);
    assert!(
        idx.definitions_by_qualified_name("app.models.User.lo")
            .expect("lookup")
            .is_empty()
    );
    assert_eq!(idx.definitions_by_name("save").expect("lookup").len(), 1);
}

#[test]
fn callers_callees_and_neighbourhood() {
    let bytes = sample();
    let idx = Index::parse(&bytes).expect("parses");
    let q = |name: &str| idx.definitions_by_qualified_name(name).expect("lookup")[0].index;
    let names = |v: Vec<symbols::Definition<'_>>| {
        let mut n: Vec<String> = v.iter().map(|d| d.qualified_name.to_owned()).collect();
        n.sort();
        n
    };
    let save = q("app.models.User.save");
    assert_eq!(
        names(idx.callees(save).expect("callees")),
        ["app.models.helper"]
    );
    assert_eq!(
        names(idx.callers(q("app.models.helper")).expect("callers")),
        ["app.models.User.load", "app.models.User.save"]
    );
    assert_eq!(
        names(idx.callers(save).expect("callers")),
        ["app.api.handle"]
    );
    let edges = idx.edges_from(q("app.models")).expect("edges");
    assert_eq!(edges.len(), 1);
    assert_eq!(
        (edges[0].kind, edges[0].target, edges[0].line),
        (EdgeKind::Import, "os.path", 1)
    );
    let hood = idx
        .neighbourhood(q("app.api.handle"), 2, 100)
        .expect("hood");
    let got: Vec<(&str, u32)> = hood.iter().map(|(d, k)| (d.qualified_name, *k)).collect();
    assert_eq!(
        got,
        [
            ("app.api.handle", 0),
            ("app.models.User.save", 1),
            ("app.models.helper", 2)
        ]
    );
    assert_eq!(
        idx.neighbourhood(q("app.api.handle"), 2, 2)
            .expect("hood")
            .len(),
        2
    );
}

#[test]
fn writer_rejects_bad_input() {
    let file = |defs| FileInput {
        path: "x.rs".into(),
        language: Language::Rust,
        owners: vec![],
        definitions: defs,
        edges: vec![],
    };
    let mut w = IndexWriter::new("c", 0, "t");
    w.add_file(file(vec![def(3, 2, DefKind::Function, "f", "f", None)]));
    assert!(w.finish().is_err());
    let mut w = IndexWriter::new("c", 0, "t");
    w.add_file(file(vec![
        def(1, 5, DefKind::Module, "m", "m", None),
        def(4, 9, DefKind::Function, "f", "m::f", Some(0)),
    ]));
    assert!(w.finish().is_err(), "child outside its parent");
    let mut w = IndexWriter::new("c", 0, "t");
    w.add_file(file(vec![def(1, 5, DefKind::Module, "m", "m", Some(7))]));
    assert!(w.finish().is_err(), "parent out of range");
    let mut w = IndexWriter::new("c", 0, "t");
    w.add_file(file(vec![]));
    w.add_file(file(vec![]));
    assert!(w.finish().is_err(), "duplicate path");
}

#[test]
fn header_errors_are_specific() {
    let bytes = sample();
    assert_eq!(
        Index::parse(&bytes[..10]).err(),
        Some(FormatError::TooShort { len: 10 })
    );
    let mut bad = bytes.clone();
    bad[0] = b'X';
    assert_eq!(Index::parse(&bad).err(), Some(FormatError::BadMagic));
    let mut bad = bytes.clone();
    bad[8] = 9;
    assert_eq!(
        Index::parse(&bad).err(),
        Some(FormatError::UnsupportedVersion { version: 9 })
    );
    let cut = &bytes[..bytes.len() - 8];
    assert!(matches!(
        Index::parse(cut),
        Err(FormatError::LengthMismatch { .. })
    ));
    // A section pointing past the end, with the header's length kept consistent.
    let mut bad = bytes.clone();
    let entry = layout::HEADER_LEN + 4; // first section's offset
    bad[entry..entry + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        Index::parse(&bad),
        Err(FormatError::BadSection { .. })
    ));
}

/// Every truncation and many single-byte corruptions: each parse and lookup either
/// succeeds or returns an error; none panics (the test fails on a panic).
#[test]
fn corrupt_files_never_panic() {
    let bytes = sample();
    for len in 0..bytes.len() {
        assert!(Index::parse(&bytes[..len]).is_err(), "truncated to {len}");
    }
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut errors = 0;
    for round in 0..4000 {
        let mut bad = bytes.clone();
        for _ in 0..1 + round % 4 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state % bad.len() as u64) as usize;
            bad[at] = (state >> 32) as u8;
        }
        let Ok(idx) = Index::parse(&bad) else {
            errors += 1;
            continue;
        };
        let mut any_err = false;
        for line in [1, 9, 16, 33, 99] {
            any_err |= idx.definition_at("app/models.py", line).is_err();
        }
        any_err |= idx
            .definitions_by_qualified_name("app.models.helper")
            .is_err();
        any_err |= idx.owners("app/models.py").is_err();
        for d in 0..idx.definition_count() as u32 + 2 {
            any_err |= idx.neighbourhood(d, 3, 50).is_err();
        }
        errors += usize::from(any_err);
    }
    assert!(errors > 0, "corruptions were detected at least sometimes");
}
