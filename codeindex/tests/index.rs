//! The real `tracemend-symbols` binary against real git repositories written by
//! the test: files in the five languages, two commits, a CODEOWNERS, uncommitted
//! changes in the work tree. Every expectation comes from the files the test wrote
//! (`MARK:` comments name the line a lookup must resolve).

mod fixture;

use std::path::Path;

use fixture::*;
use symbols::{DefKind, EdgeKind, Index, Language, symbol_id};

#[test]
fn index_lookups_match_the_files() {
    let f = fixture();
    let out = f.root.parent().expect("parent").join("head.idx");
    let bytes = index(&f.root, None, &out);
    let idx = Index::parse(&bytes).expect("valid index");
    assert_eq!(idx.commit().expect("meta"), f.c2);
    let v2 = models_v2();
    for (file, marker, want) in TRUTH {
        let text = match *file {
            "app/models.py" => v2.as_str(),
            "cart/cart.go" => CART_GO,
            "src/main/java/com/shop/Order.java" => ORDER_JAVA,
            "web/api.js" => API_JS,
            "web/svc.ts" => SVC_TS,
            "engine/src/lib.rs" => LIB_RS,
            other => panic!("no text for {other}"),
        };
        let line = marker_line(text, marker);
        let got = idx.definition_at(file, line).expect("lookup");
        assert_eq!(
            got.map(|d| d.qualified_name),
            Some(*want),
            "{file}:{line} ({marker})"
        );
    }

    // Line ranges, kinds and parents of one definition per language.
    let one = |q: &str| {
        let v = idx.definitions_by_qualified_name(q).expect("lookup");
        assert_eq!(v.len(), 1, "{q}: {v:?}");
        v[0]
    };
    let save = one("app.models.User.save");
    assert_eq!((save.start_line, save.end_line), (11, 13));
    assert_eq!(save.kind, DefKind::Method);
    assert_eq!(
        idx.definition(save.parent.expect("in class"))
            .expect("parent")
            .qualified_name,
        "app.models.User"
    );
    let add = one("example.com/shop/cart.(*Cart).Add");
    assert_eq!(
        (add.start_line, add.end_line, add.kind),
        (12, 14, DefKind::Method)
    );
    let qty = one("com.shop.Order$Line.qty");
    assert_eq!((qty.start_line, qty.end_line), (17, 19));
    let imp = one("shop_engine::<impl std::fmt::Display for Stock>");
    assert_eq!(
        (imp.kind, imp.start_line, imp.end_line),
        (DefKind::Impl, 13, 17)
    );
    let module = one("web/api");
    assert_eq!(
        (module.kind, module.start_line, module.end_line),
        (DefKind::Module, 1, 16)
    );
    assert_eq!(module.language, Language::JavaScript);
    assert_eq!(one("web/svc.Svc").kind, DefKind::Interface);

    // The tree of the commit, not the work tree.
    assert!(
        idx.definitions_by_qualified_name("app.models.uncommitted")
            .expect("lookup")
            .is_empty()
    );
    assert!(!idx.contains_file("app/untracked.py").expect("lookup"));
    assert!(!idx.contains_file("README.md").expect("lookup"));
    // The unparsable file stays in the index (in-app) with its module definition only.
    assert!(idx.contains_file("app/broken.py").expect("lookup"));
    assert_eq!(
        idx.definition_at("app/broken.py", 2)
            .expect("lookup")
            .map(|d| d.kind),
        Some(DefKind::Module)
    );

    // Change overlay: save changed in commit 2; helper only moved.
    assert_eq!(save.last_change.map(|c| c.sha), Some(f.c2.as_str()));
    assert_eq!(
        save.last_change.map(|c| c.author),
        Some("Bob <bob@example.com>")
    );
    assert_eq!(save.last_change.map(|c| c.time), Some(1_706_745_600));
    let helper = one("app.models.helper");
    assert_eq!(helper.last_change.map(|c| c.sha), Some(f.c1.as_str()));
    assert_eq!(helper.last_change.map(|c| c.time), Some(1_704_067_200));
    assert_eq!(
        one("com.shop.Order.count").last_change.map(|c| c.sha),
        Some(f.c1.as_str())
    );

    // Owners: .github/CODEOWNERS, last match wins, empty owners.
    let owners = |p: &str| idx.owners(p).expect("lookup").expect("indexed");
    assert_eq!(owners("app/models.py"), ["@org/python"]);
    assert_eq!(owners("web/api.js"), ["@org/web"]);
    assert_eq!(owners("engine/src/lib.rs"), ["@org/rust"]);
    assert_eq!(owners("cart/cart.go"), ["@org/everyone"]);
    assert!(owners("app/legacy.py").is_empty());

    // Edges: calls and imports, name-based.
    let names = |v: Vec<symbols::Definition<'_>>| {
        let mut n: Vec<String> = v.iter().map(|d| d.qualified_name.to_owned()).collect();
        n.sort();
        n
    };
    assert_eq!(
        names(idx.callees(save.index).expect("callees")),
        ["app.models.helper"]
    );
    assert_eq!(
        names(idx.callers(helper.index).expect("callers")),
        ["app.models.User.save"]
    );
    let inner = one("app.models.helper.<locals>.inner");
    assert_eq!(
        names(idx.callers(inner.index).expect("callers")),
        ["app.models.helper"]
    );
    assert_eq!(
        names(idx.callers(one("web/api.route").index).expect("callers")),
        ["web/api.start"]
    );
    let imports = |q: &str| -> Vec<String> {
        let mut v: Vec<String> = idx
            .edges_from(one(q).index)
            .expect("edges")
            .into_iter()
            .filter(|e| e.kind == EdgeKind::Import)
            .map(|e| e.target.to_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(imports("app.models"), ["app", "os"]);
    assert_eq!(imports("example.com/shop/cart"), ["fmt", "strings"]);
    assert_eq!(imports("web/api"), ["./fmt.js", "express"]);
    assert_eq!(imports("shop_engine"), ["std::collections::HashMap"]);
    assert_eq!(
        imports("src/main/java/com/shop/Order.java"),
        ["java.util.List"]
    );
    let hood = idx.neighbourhood(inner.index, 2, 10).expect("hood");
    let hood: Vec<(&str, u32)> = hood.iter().map(|(d, k)| (d.qualified_name, *k)).collect();
    assert_eq!(
        hood,
        [
            ("app.models.helper.<locals>.inner", 0),
            ("app.models.helper", 1),
            ("app.models.User.save", 2)
        ]
    );

    // The lookup command prints the same.
    let line = marker_line(&v2, "save").to_string();
    let o = run(&[
        "lookup",
        "--index",
        out.to_str().expect("utf-8"),
        "--file",
        "app/models.py",
        "--line",
        &line,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("file: app/models.py\n"), "{text}");
    assert!(
        text.contains("definition: app.models.User.save\n"),
        "{text}"
    );
    // A container path ending in the repository path resolves to it.
    let o = run(&[
        "lookup",
        "--index",
        out.to_str().expect("utf-8"),
        "--file",
        "/srv/app/app/models.py",
        "--line",
        &line,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let resolved = String::from_utf8_lossy(&o.stdout);
    assert!(resolved.contains("file: app/models.py\n"), "{resolved}");
    assert!(
        resolved.contains("definition: app.models.User.save\n"),
        "{resolved}"
    );
    assert!(text.contains("owners: @org/python\n"), "{text}");
    let id = format!(
        "symbol_id: {:016x}\n",
        symbol_id(Language::Python, "app/models.py", "app.models.User.save")
    );
    assert!(text.contains(&id), "{text}");
}

#[test]
fn an_older_commit_and_stable_symbol_ids() {
    let f = fixture();
    let dir = f.root.parent().expect("parent");
    let old_bytes = index(&f.root, Some(&f.c1), &dir.join("c1.idx"));
    let new_bytes = index(&f.root, Some("HEAD"), &dir.join("c2.idx"));
    let old = Index::parse(&old_bytes).expect("valid");
    let new = Index::parse(&new_bytes).expect("valid");
    assert_eq!(old.commit().expect("meta"), f.c1);
    // A bare clone (a CI mirror) gives the same index.
    let bare = dir.join("bare.git");
    git(
        dir,
        &[
            "clone",
            "-q",
            "--bare",
            f.root.to_str().expect("utf-8"),
            bare.to_str().expect("utf-8"),
        ],
        "2024-03-01T00:00:00Z",
        "Ann",
    );
    let bare_bytes = index(&bare, Some(&f.c1), &dir.join("bare.idx"));
    assert_eq!(bare_bytes, old_bytes, "same commit, same bytes");
    fn find<'a>(idx: &Index<'a>, q: &str) -> symbols::Definition<'a> {
        idx.definitions_by_qualified_name(q).expect("lookup")[0]
    }
    for q in ["app.models.helper", "app.models.User.save"] {
        let (a, b) = (find(&old, q), find(&new, q));
        assert_eq!(b.start_line, a.start_line + 2, "{q} moved two lines down");
        assert_eq!(a.symbol_id, b.symbol_id, "{q} keeps its id");
    }
    assert_eq!(
        find(&old, "app.models.User.save")
            .last_change
            .map(|c| c.sha),
        Some(f.c1.as_str())
    );
    assert_eq!(
        old.definition_at("app/models.py", marker_line(MODELS_V1, "save"))
            .expect("lookup")
            .map(|d| d.name),
        Some("save")
    );
}

#[test]
fn clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("x.idx");
    let out_s = out.to_str().expect("utf-8");
    let plain = dir.path().join("plain");
    std::fs::create_dir_all(&plain).expect("mkdir");
    let o = run(&[
        "index",
        "--repo",
        plain.to_str().expect("utf-8"),
        "--out",
        out_s,
    ]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is not a git repository"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let f = fixture();
    let o = run(&[
        "index",
        "--repo",
        f.root.to_str().expect("utf-8"),
        "--commit",
        "deadbeef",
        "--out",
        out_s,
    ]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unknown commit deadbeef"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!out.exists(), "nothing written on failure");

    let good = f.root.parent().expect("parent").join("good.idx");
    let bytes = index(&f.root, None, &good);
    let lookup = |p: &Path| {
        run(&[
            "lookup",
            "--index",
            p.to_str().expect("utf-8"),
            "--file",
            "app/models.py",
            "--line",
            "3",
        ])
    };
    let truncated = dir.path().join("truncated.idx");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let o = lookup(&truncated);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("truncated"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let garbage = dir.path().join("garbage.idx");
    std::fs::write(&garbage, b"not an index at all, just some text").expect("write");
    let o = lookup(&garbage);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("bad magic"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(&[
        "lookup",
        "--index",
        good.to_str().expect("utf-8"),
        "--file",
        "nope.py",
        "--line",
        "1",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.py is not in the index"));
    let o = run(&["stats", good.to_str().expect("utf-8")]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("files: 8\n"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn size_limit_and_no_blame() {
    let f = fixture();
    let out = f.root.parent().expect("parent").join("limited.idx");
    let limit = 450;
    let o = run(&[
        "index",
        "--repo",
        f.root.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--max-file-bytes",
        &limit.to_string(),
        "--no-blame",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&out).expect("written");
    let idx = Index::parse(&bytes).expect("valid");
    let v2 = models_v2();
    let legacy = "def old():\n    return 1\n";
    let texts = [
        ("app/models.py", v2.as_str()),
        ("app/legacy.py", legacy),
        ("cart/cart.go", CART_GO),
        ("src/main/java/com/shop/Order.java", ORDER_JAVA),
        ("web/api.js", API_JS),
        ("web/svc.ts", SVC_TS),
        ("engine/src/lib.rs", LIB_RS),
    ];
    let large = texts.iter().filter(|(_, t)| t.len() > limit).count();
    assert!(
        large > 0 && large < texts.len(),
        "the limit splits the files"
    );
    for (path, text) in texts {
        let file = idx.file(path).expect("lookup").expect("indexed");
        let defs = idx.file_definitions(&file).expect("defs");
        // The module spans the file's lines, counted as the blob streamed past
        // when the file is over the limit.
        assert_eq!(defs[0].kind, DefKind::Module);
        assert_eq!(defs[0].end_line as usize, text.lines().count(), "{path}");
        if text.len() > limit {
            assert_eq!(
                defs.len(),
                1,
                "{path} ({} bytes) keeps its module only",
                text.len()
            );
        } else {
            assert!(defs.len() > 1, "{path} ({} bytes) is parsed", text.len());
        }
        assert!(defs.iter().all(|d| d.last_change.is_none()), "--no-blame");
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    // The large files and the unparsable one.
    assert!(
        stdout.contains(&format!("({} without definitions)", large + 1)),
        "{stdout}"
    );
    assert_eq!(idx.commit_count(), 0);
}

/// GitHub's order: `.github/CODEOWNERS`, then `CODEOWNERS`, then `docs/CODEOWNERS`,
/// the first found used alone (the fixture covers `.github/` over the root).
#[test]
fn codeowners_locations_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("repo");
    std::fs::create_dir_all(&root).expect("mkdir");
    let date = "2024-01-01T00:00:00Z";
    git(&root, &["init", "-q", "-b", "main"], date, "Ann");
    write(&root, "a.py", "def f():\n    pass\n");
    write(&root, "CODEOWNERS", "* @root\n");
    write(&root, "docs/CODEOWNERS", "*.py @docs\n");
    let with_root = commit(&root, "both", date, "Ann");
    std::fs::remove_file(root.join("CODEOWNERS")).expect("rm");
    let docs_only = commit(&root, "docs only", date, "Ann");
    for (rev, want) in [(with_root, "@root"), (docs_only, "@docs")] {
        let out = dir.path().join(format!("{rev}.idx"));
        let o = run(&[
            "index",
            "--repo",
            root.to_str().expect("utf-8"),
            "--commit",
            &rev,
            "--out",
            out.to_str().expect("utf-8"),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let bytes = std::fs::read(&out).expect("written");
        let idx = Index::parse(&bytes).expect("valid");
        assert_eq!(
            idx.owners("a.py").expect("lookup"),
            Some(vec![want]),
            "at {rev}"
        );
    }
}
