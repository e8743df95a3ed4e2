//! Coverage of a fix's changed lines: the regression test and the repository's tests run
//! once more in the fix's image under a standard-library line tracer
//! (`assets/cover.py`, a `sitecustomize` on `PYTHONPATH`, so the service processes the
//! tests start are traced too); the share of the lines the fix adds that ran.

use serde_json::json;

/// The runner script, passed as `python3 -c`.
pub const COVER_PY: &str = include_str!("../../assets/cover.py");
const MARKER: &str = "TRACEMEND_COVER ";

/// The runner's environment.
pub fn runner_env(file_in_container: &str, commands: &[Vec<String>], timeout_s: u64) -> String {
    format!(
        "TRACEMEND_COVER_SPEC={}",
        json!({"file": file_in_container, "commands": commands, "timeout_s": timeout_s})
    )
}

/// Lines (new side, 1-based) the diff adds that can run: not blank, not comments, not a
/// bare `try:`/`else:`/`finally:` (no line event of their own).
pub fn added_lines(diff: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let mut line = 0u32;
    for l in diff.lines() {
        if let Some(rest) = l.strip_prefix("@@ ") {
            // `@@ -a,b +c,d @@`
            line = rest
                .split(' ')
                .find_map(|p| p.strip_prefix('+'))
                .and_then(|p| p.split(',').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            continue;
        }
        if l.starts_with("+++") || l.starts_with("---") {
            continue;
        }
        if let Some(added) = l.strip_prefix('+') {
            let t = added.trim();
            if !(t.is_empty() || t.starts_with('#') || matches!(t, "try:" | "else:" | "finally:")) {
                out.push(line);
            }
            line += 1;
        } else if !l.starts_with('-') {
            line += 1;
        }
    }
    out
}

/// The lines that ran, from the runner's output.
pub fn parse(stdout: &str) -> Option<Vec<u32>> {
    let line = stdout.lines().rev().find_map(|l| l.strip_prefix(MARKER))?;
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    v["lines"].as_array().map(|a| {
        a.iter()
            .filter_map(|n| n.as_u64().map(|n| n as u32))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tracer on the host's Python: lines of a module run by a command and by a
    /// process it starts and terminates (SIGTERM) are reported; lines not run are not.
    #[test]
    fn the_tracer_reports_the_lines_that_ran_in_every_process() {
        let dir = tempfile::tempdir().expect("tmp");
        let module = dir.path().join("m.py");
        std::fs::write(
            &module,
            "import os, sys, time\n\n\ndef f(x):\n    if x:\n        return 'yes'\n    return 'no'\n\n\nif __name__ == '__main__':\n    f(1)\n    open(sys.argv[1], 'w').close()\n    while True:\n        time.sleep(0.05)\n",
        )
        .expect("write");
        let ready = dir.path().join("ready");
        let d = dir.path().display().to_string();
        let m = module.display().to_string();
        let r = ready.display().to_string();
        let commands = vec![
            vec![
                "python3".to_string(),
                "-c".to_string(),
                format!("import sys; sys.path.insert(0, {d:?}); import m; m.f(0)"),
            ],
            vec![
                "python3".to_string(),
                "-c".to_string(),
                format!(
                    "import os, subprocess, sys, time\np = subprocess.Popen([sys.executable, {m:?}, {r:?}])\nwhile not os.path.exists({r:?}):\n    time.sleep(0.02)\np.terminate()\np.wait()"
                ),
            ],
        ];
        let spec = json!({"file": m, "commands": commands, "timeout_s": 60, "site": dir.path().join("site")});
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(COVER_PY)
            .env("TRACEMEND_COVER_SPEC", spec.to_string())
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines = parse(&String::from_utf8_lossy(&out.stdout)).expect("result");
        // f(0) ran lines 5 and 7; the __main__ process (terminated) ran 6, 11 and 12.
        for want in [5, 6, 7, 11, 12] {
            assert!(lines.contains(&want), "line {want} missing in {lines:?}");
        }
    }

    #[test]
    fn added_lines_follow_the_new_side() {
        let diff = "--- a/app.py\n+++ b/app.py\n@@ -10,3 +10,6 @@\n def f(x):\n-    return x[0]\n+    try:\n+        return x[0]\n+    except IndexError:\n+        # none\n+        return None\n \n";
        assert_eq!(added_lines(diff), vec![12, 13, 15]);
        assert_eq!(
            parse("x\nTRACEMEND_COVER {\"lines\": [1, 12]}\n"),
            Some(vec![1, 12])
        );
        assert_eq!(parse("nothing"), None);
    }
}
