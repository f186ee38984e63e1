//! Tidy checks of the tree, run by `cargo xtask ci` and by `cargo test`:
//!
//! * crate dependencies follow the layering DAG of DESIGN.md (nothing points
//!   up);
//! * only `loop-core` names its backend seam, `loop_core::driver`;
//! * every Rust source file starts with a `//!` doc line.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Which workspace crates each crate may depend on (DESIGN.md's DAG).
pub(crate) fn allowed_deps() -> BTreeMap<&'static str, &'static [&'static str]> {
    BTreeMap::from([
        ("loop-core", &[][..]),
        ("loop-sync", &[][..]),
        ("loop-signals", &["loop-core"][..]),
        ("loop-transports", &["loop-core"][..]),
        ("loop-streams", &["loop-transports", "loop-core"][..]),
        ("loop-process", &["loop-streams", "loop-transports", "loop-core"][..]),
        (
            "tulip",
            &[
                "loop-core",
                "loop-sync",
                "loop-signals",
                "loop-transports",
                "loop-streams",
                "loop-process",
            ][..],
        ),
    ])
}

/// Where the loop's backend seam (`loop_core::driver`) may be named: loop-core
/// itself. The crates above it use `Loop` only, so they run on any driver.
const MAY_NAME_DRIVER: &[&str] = &["crates/loop-core/"];

/// Runs every check; returns the list of problems found.
pub(crate) fn check(root: &Path) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    check_layering(root, &mut problems);
    let sources = rust_sources(root);
    for file in &sources {
        let rel = file.strip_prefix(root).unwrap_or(file).to_string_lossy().into_owned();
        let Ok(text) = fs::read_to_string(file) else { continue };
        let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
        if !first.starts_with("//!") {
            problems.push(format!("{rel}: does not start with a `//!` doc line"));
        }
        let shipped = rel.starts_with("crates/") && rel.contains("/src/");
        let allowed = MAY_NAME_DRIVER.iter().any(|p| rel.starts_with(p));
        if shipped && !allowed && text.contains("loop_core::driver") {
            problems.push(format!(
                "{rel}: names loop_core::driver; crates above loop-core use the Loop handle only"
            ));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// Workspace crates a manifest depends on (normal, dev and build sections).
pub(crate) fn workspace_deps(manifest: &str, known: &[&str]) -> Vec<String> {
    let mut deps = Vec::new();
    let mut in_deps = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line.ends_with("dependencies]");
            continue;
        }
        if !in_deps || line.starts_with('#') {
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or("").trim();
        if known.contains(&name) {
            deps.push(name.to_owned());
        }
    }
    deps
}

pub(crate) fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && line.starts_with("name") {
            return line.split('"').nth(1).map(str::to_owned);
        }
    }
    None
}

fn check_layering(root: &Path, problems: &mut Vec<String>) {
    let allowed = allowed_deps();
    let known: Vec<&str> = allowed.keys().copied().collect();
    let Ok(entries) = fs::read_dir(root.join("crates")) else {
        problems.push("no crates/ directory".into());
        return;
    };
    for entry in entries.flatten() {
        let manifest_path = entry.path().join("Cargo.toml");
        let Ok(manifest) = fs::read_to_string(&manifest_path) else { continue };
        let Some(name) = package_name(&manifest) else { continue };
        let Some(ok) = allowed.get(name.as_str()) else {
            problems.push(format!("{name}: not in the layering table of xtask/src/tidy.rs"));
            continue;
        };
        for dep in workspace_deps(&manifest, &known) {
            if dep != name && !ok.contains(&dep.as_str()) {
                problems.push(format!("{name} depends on {dep}, which points up the DAG"));
            }
        }
    }
}

fn rust_sources(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["crates", "xtask", "tests", "bench", "fuzz"] {
        walk(&root.join(dir), &mut out);
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_is_tidy() {
        if let Err(problems) = check(&crate::workspace_root()) {
            panic!("tidy problems:\n{}", problems.join("\n"));
        }
    }

    #[test]
    fn an_upward_dependency_is_caught() {
        let manifest =
            "[package]\nname = \"loop-core\"\n[dependencies]\nloop-transports.workspace = true\n";
        let known: Vec<&str> = allowed_deps().keys().copied().collect();
        assert_eq!(workspace_deps(manifest, &known), vec!["loop-transports"]);
        let ok = allowed_deps()["loop-core"];
        assert!(!ok.contains(&"loop-transports"));
    }

    #[test]
    fn dev_dependencies_count_too() {
        let manifest = "[package]\nname = \"loop-sync\"\n[dev-dependencies]\nloop-core = { path = \"../loop-core\" }\n";
        let known: Vec<&str> = allowed_deps().keys().copied().collect();
        assert_eq!(workspace_deps(manifest, &known), vec!["loop-core"]);
    }

    #[test]
    fn a_file_without_doc_line_is_caught() {
        let dir = std::env::temp_dir().join(format!("tulip-tidy-{}", std::process::id()));
        let src = dir.join("crates/x/src");
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("lib.rs"), "fn main() {}\n").unwrap();
        let problems = check(&dir).unwrap_err();
        fs::remove_dir_all(&dir).unwrap();
        assert!(problems.iter().any(|p| p.contains("does not start with a `//!`")), "{problems:?}");
    }
}
