//! Module qualifiers from paths and the repository's manifests: Python dotted
//! modules, JS/TS module paths, Go import paths (from `go.mod`) and Rust crate
//! paths (from `Cargo.toml`).

use symbols::Language;

use crate::extract::ModuleDef;

/// What the manifests of the tree say about names.
#[derive(Debug, Default, Clone)]
pub struct RepoNames {
    /// (directory, module path) of each `go.mod`, deepest directory first.
    go_modules: Vec<(String, String)>,
    /// (directory, crate name) of each `Cargo.toml` with a `[package]` name.
    crates: Vec<(String, String)>,
}

/// The directory of a path ("" at the root).
fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

/// The last component without its extension.
fn stem(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.rsplit_once('.').map_or(file, |(s, _)| s)
}

/// `path` relative to `dir` when it lies in it.
fn under<'p>(path: &'p str, dir: &str) -> Option<&'p str> {
    if dir.is_empty() {
        return Some(path);
    }
    let rest = path.strip_prefix(dir)?;
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_prefix('/')
    }
}

impl RepoNames {
    /// Whether `path` is a manifest whose contents [`RepoNames::add_manifest`] reads.
    pub fn is_manifest(path: &str) -> bool {
        path == "go.mod"
            || path.ends_with("/go.mod")
            || path == "Cargo.toml"
            || path.ends_with("/Cargo.toml")
    }

    /// Records a manifest's names.
    pub fn add_manifest(&mut self, path: &str, text: &str) {
        let dir = dir_of(path).to_owned();
        if path.ends_with("go.mod") {
            if let Some(m) = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("module "))
                .map(|m| m.trim().trim_matches('"').to_owned())
            {
                self.go_modules.push((dir, m));
                self.go_modules
                    .sort_by_key(|m| std::cmp::Reverse(m.0.len()));
            }
        } else if let Some(name) = cargo_package_name(text) {
            self.crates.push((dir, name.replace('-', "_")));
        }
    }

    /// A Go file's module: the package's import path (`module/dir`) or `main`.
    pub(crate) fn go_module(&self, path: &str, package: Option<&str>) -> ModuleDef {
        let dir = dir_of(path);
        let import_path = match package {
            Some("main") => "main".to_owned(),
            _ => self
                .go_modules
                .iter()
                .find_map(|(d, m)| {
                    under(dir, d).map(|rest| {
                        if rest.is_empty() {
                            m.clone()
                        } else {
                            format!("{m}/{rest}")
                        }
                    })
                })
                .unwrap_or_else(|| {
                    if dir.is_empty() {
                        package.unwrap_or("main").to_owned()
                    } else {
                        dir.to_owned()
                    }
                }),
        };
        ModuleDef {
            name: package.unwrap_or(stem(path)).to_owned(),
            qualified_name: import_path.clone(),
            prefix: import_path,
        }
    }

    /// A Rust file's module path: the crate name (from its `Cargo.toml`, else its
    /// directory) then the modules below `src/` (`lib.rs`, `main.rs` and `mod.rs`
    /// name their directory; `src/bin/x.rs` is crate `x`).
    pub(crate) fn rust_module(&self, path: &str) -> ModuleDef {
        let parts: Vec<&str> = path.split('/').collect();
        let qualified = match parts.iter().rposition(|p| *p == "src") {
            Some(i) => {
                let crate_dir = parts[..i].join("/");
                let mut krate = self
                    .crates
                    .iter()
                    .find(|(d, _)| *d == crate_dir)
                    .map(|(_, n)| n.clone())
                    .or_else(|| parts[..i].last().map(|d| d.replace('-', "_")))
                    .unwrap_or_else(|| "crate".to_owned());
                let mut mods: Vec<&str> = parts[i + 1..].to_vec();
                if mods.first() == Some(&"bin") && mods.len() == 2 {
                    krate = stem(mods[1]).replace('-', "_");
                    mods.clear();
                }
                if let Some(last) = mods.last_mut() {
                    *last = stem(last);
                }
                if matches!(mods.last(), Some(&("lib" | "main" | "mod"))) {
                    mods.pop();
                }
                std::iter::once(krate.as_str())
                    .chain(mods)
                    .collect::<Vec<_>>()
                    .join("::")
            }
            None => {
                let mut p: Vec<&str> = parts.clone();
                if let Some(last) = p.last_mut() {
                    *last = stem(last);
                }
                if p.len() > 1 && p.last() == Some(&"mod") {
                    p.pop();
                }
                p.join("::")
            }
        };
        ModuleDef {
            name: qualified
                .rsplit("::")
                .next()
                .unwrap_or(&qualified)
                .to_owned(),
            prefix: qualified.clone(),
            qualified_name: qualified,
        }
    }
}

/// The `name` of a `Cargo.toml`'s `[package]` table.
fn cargo_package_name(text: &str) -> Option<String> {
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if in_package
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == "name"
        {
            return Some(v.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// A Python file's dotted module (`src/` dropped, `__init__` naming its package).
pub(crate) fn python_module(path: &str) -> ModuleDef {
    let without = path.strip_suffix(".py").unwrap_or(path);
    let mut parts: Vec<&str> = without.split('/').collect();
    if parts.len() > 1 && parts[0] == "src" {
        parts.remove(0);
    }
    if parts.len() > 1 && parts.last() == Some(&"__init__") {
        parts.pop();
    }
    let qualified = parts.join(".");
    ModuleDef {
        name: parts.last().copied().unwrap_or("").to_owned(),
        prefix: qualified.clone(),
        qualified_name: qualified,
    }
}

/// A JS/TS file's module: its path without the extension.
pub(crate) fn js_module(path: &str) -> ModuleDef {
    let qualified = path.rsplit_once('.').map_or(path, |(s, _)| s).to_owned();
    ModuleDef {
        name: stem(path).to_owned(),
        prefix: qualified.clone(),
        qualified_name: qualified,
    }
}

/// The module definition of a file that could not be parsed.
pub(crate) fn fallback_module(language: Language, path: &str, names: &RepoNames) -> ModuleDef {
    match language {
        Language::Python => python_module(path),
        Language::JavaScript | Language::TypeScript => js_module(path),
        Language::Go => names.go_module(path, None),
        Language::Rust => names.rust_module(path),
        Language::Java => ModuleDef {
            name: path.rsplit('/').next().unwrap_or(path).to_owned(),
            qualified_name: path.to_owned(),
            prefix: String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_modules() {
        assert_eq!(
            python_module("src/app/models.py").qualified_name,
            "app.models"
        );
        assert_eq!(python_module("app/__init__.py").qualified_name, "app");
        assert_eq!(python_module("setup.py").qualified_name, "setup");
    }

    #[test]
    fn go_import_paths() {
        let mut n = RepoNames::default();
        n.add_manifest("go.mod", "module example.com/shop\n\ngo 1.22\n");
        n.add_manifest("tools/go.mod", "module example.com/tools\n");
        assert_eq!(
            n.go_module("cart/cart.go", Some("cart")).prefix,
            "example.com/shop/cart"
        );
        assert_eq!(
            n.go_module("tools/x/a.go", Some("x")).prefix,
            "example.com/tools/x"
        );
        assert_eq!(
            n.go_module("lib.go", Some("shop")).prefix,
            "example.com/shop"
        );
        assert_eq!(n.go_module("cmd/main.go", Some("main")).prefix, "main");
    }

    #[test]
    fn rust_paths() {
        let mut n = RepoNames::default();
        n.add_manifest(
            "engine/Cargo.toml",
            "[package]\nname = \"my-engine\"\n[dependencies]\nname = \"no\"\n",
        );
        assert_eq!(n.rust_module("engine/src/lib.rs").prefix, "my_engine");
        assert_eq!(n.rust_module("engine/src/a/b.rs").prefix, "my_engine::a::b");
        assert_eq!(n.rust_module("engine/src/a/mod.rs").prefix, "my_engine::a");
        assert_eq!(n.rust_module("other/src/main.rs").prefix, "other");
        assert_eq!(n.rust_module("src/bin/tool.rs").prefix, "tool");
        assert_eq!(n.rust_module("src/x.rs").prefix, "crate::x");
    }
}
