//! `cargo xtask package` (also run by `cargo xtask ci`): packages every
//! publishable crate and builds what was packaged, so a file missing from a
//! crate's package fails CI.
//!
//! 1. `cargo package --locked -p <every publishable crate>`. Cargo packages
//!    them in dependency order and verifies each one — a build of its library
//!    from the unpacked `.crate` alone — with its not-yet-published siblings
//!    served from a local registry overlaid on crates.io, so no crate needs
//!    `--no-verify`. A `readme` that does not exist fails here.
//! 2. Each `.crate` is unpacked into `<target>/package-check/`, and its
//!    `README.md`, `LICENSE-MIT` and `LICENSE-APACHE` are checked (the
//!    licence files must equal the workspace root's).
//! 3. The unpacked crates form a throwaway workspace whose
//!    `[patch.crates-io]` points every tulip crate at its unpacked package,
//!    with the workspace's `Cargo.lock` copied in so the dependency versions
//!    are the workspace's. There `cargo test --doc` runs
//!    the doctests — the README examples are `cfg(doctest)` includes, which
//!    no library build reads — and `cargo check --all-targets` compiles the
//!    tests and examples each package ships, all with every feature on.
//!
//! Every build shares the workspace's target directory, so dependencies
//! already built by the other CI steps are reused.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::{cargo, cargo_in, target_dir, tidy, workspace_root};

/// Files every package must carry.
const REQUIRED_FILES: &[&str] = &["README.md", "LICENSE-MIT", "LICENSE-APACHE"];

/// Files every package must carry byte-identical to the workspace root's.
const LICENCE_FILES: &[&str] = &["LICENSE-MIT", "LICENSE-APACHE"];

/// Runs the three steps above.
pub(crate) fn run() -> Result<(), String> {
    let started = Instant::now();
    let root = workspace_root();
    let crates = publishable_crates(&root)?;
    if crates.is_empty() {
        return Err("package: the workspace has no publishable crate".into());
    }
    let target = target_dir();
    let target_env = target.to_string_lossy().into_owned();
    let envs = [("CARGO_TARGET_DIR", target_env.as_str())];

    // Step 1. Packaging verifies each crate against its siblings' packages
    // through a local registry, and cargo takes registry crates to be
    // immutable: a sibling packaged again with new contents but the same
    // version would count as already built. So packaging gets a target
    // directory of its own, where every tulip crate's build is forgotten
    // before each run (third-party dependencies stay cached). Stale `.crate`
    // files would be unpacked in step 2 as if this run had made them.
    // Cargo also unpacks those packages once into its home's registry
    // sources (under a directory named after the local registry) and never
    // refreshes them, so the unpacked copies of earlier runs go too.
    let verify_target = target.join("package-verify");
    forget_builds_of(&verify_target.join("debug/.fingerprint"), &crates)?;
    forget_unpacked_packages(&crates)?;
    let verify_env = verify_target.to_string_lossy().into_owned();
    let package_dir = verify_target.join("package");
    remove_crate_files(&package_dir)?;
    let mut args = vec!["package", "--locked", "--allow-dirty"];
    for name in &crates {
        args.extend(["-p", name.as_str()]);
    }
    cargo(&args, &[("CARGO_TARGET_DIR", verify_env.as_str())])?;

    // Step 2. A fresh directory each time: a file left over from an earlier
    // unpacking must not stand in for one the package lacks.
    let check_dir = target.join("package-check");
    if check_dir.exists() {
        fs::remove_dir_all(&check_dir)
            .map_err(|e| format!("cannot remove {}: {e}", check_dir.display()))?;
    }
    fs::create_dir_all(&check_dir)
        .map_err(|e| format!("cannot create {}: {e}", check_dir.display()))?;
    let files = crate_files(&package_dir)?;
    let mut unpacked = Vec::new();
    let mut problems = Vec::new();
    for name in &crates {
        let file = crate_file_for(name, &files)
            .ok_or_else(|| format!("package: cargo package made no .crate file for {name}"))?;
        let dir = unpack(&package_dir.join(file), &check_dir)?;
        problems.extend(check_contents(&root, &check_dir.join(&dir), name));
        unpacked.push((name.clone(), dir));
    }
    if !problems.is_empty() {
        return Err(format!("package:\n{}", problems.join("\n")));
    }

    // Step 3.
    fs::write(check_dir.join("Cargo.toml"), check_manifest(&unpacked))
        .map_err(|e| format!("cannot write the check workspace: {e}"))?;
    fs::copy(root.join("Cargo.lock"), check_dir.join("Cargo.lock"))
        .map_err(|e| format!("cannot copy Cargo.lock: {e}"))?;
    cargo_in(&check_dir, &["test", "--doc", "--workspace", "--all-features"], &envs)?;
    cargo_in(&check_dir, &["check", "--workspace", "--all-targets", "--all-features"], &envs)?;
    eprintln!("xtask: packaged and built {} crates in {:.0?}", crates.len(), started.elapsed());
    Ok(())
}

/// The workspace members that may be published (no `publish = false`), by
/// package name, in the order of the workspace's `members`.
fn publishable_crates(root: &Path) -> Result<Vec<String>, String> {
    let manifest = read(&root.join("Cargo.toml"))?;
    let mut crates = Vec::new();
    for member in workspace_members(&manifest)? {
        let text = read(&root.join(&member).join("Cargo.toml"))?;
        let name = tidy::package_name(&text)
            .ok_or_else(|| format!("{member}/Cargo.toml: no package name"))?;
        if is_published(&text) {
            crates.push(name);
        }
    }
    Ok(crates)
}

/// The paths in `[workspace] members = [...]`.
fn workspace_members(manifest: &str) -> Result<Vec<String>, String> {
    let mut section = "";
    let mut list = None;
    for (i, line) in manifest.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') && !line.starts_with("[\"") {
            section = line;
        } else if section == "[workspace]" && line.starts_with("members") {
            // The rest of the manifest, without comments.
            let rest: String = manifest
                .lines()
                .skip(i)
                .map(|l| l.split('#').next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            let start = rest.find('[').ok_or("Cargo.toml: members is not an array")?;
            let end = rest.find(']').ok_or("Cargo.toml: members has no closing bracket")?;
            list = Some(rest[start + 1..end].to_owned());
            break;
        }
    }
    let list = list.ok_or("Cargo.toml: no [workspace] members")?;
    let members: Vec<String> = list
        .split(',')
        .map(|item| item.trim().trim_matches('"').to_owned())
        .filter(|m| !m.is_empty())
        .collect();
    if let Some(glob) = members.iter().find(|m| m.contains(['*', '?', '['])) {
        return Err(format!("Cargo.toml: member {glob:?} is a glob; xtask lists members by path"));
    }
    Ok(members)
}

/// Whether a manifest's `[package]` lacks `publish = false`.
fn is_published(manifest: &str) -> bool {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && line.replace(' ', "") == "publish=false" {
            return false;
        }
    }
    true
}

/// Deletes the `.crate` files in `dir` (cargo's package output).
fn remove_crate_files(dir: &Path) -> Result<(), String> {
    for file in crate_files(dir)? {
        let path = dir.join(file);
        fs::remove_file(&path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The names of the `.crate` files in `dir` (none if `dir` does not exist).
fn crate_files(dir: &Path) -> Result<Vec<String>, String> {
    let Ok(entries) = fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".crate") && entry.path().is_file() {
            files.push(name);
        }
    }
    Ok(files)
}

/// The `<name>-<version>.crate` file of crate `name` among `files` (so
/// `loop-core-0.1.0.crate`, not `loop-core-ext-0.1.0.crate`).
fn crate_file_for<'a>(name: &str, files: &'a [String]) -> Option<&'a str> {
    files.iter().map(String::as_str).find(|f| {
        f.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit()))
    })
}

/// Unpacks `crate_file` into `into`; returns the directory it made
/// (`<name>-<version>`). Files get the current time as their mtime: cargo
/// stamps packaged files with one fixed date, and cargo's freshness check
/// compares mtimes, so kept stamps would let a stale build pass.
fn unpack(crate_file: &Path, into: &Path) -> Result<String, String> {
    let status = Command::new("tar")
        .arg("-xzmf")
        .arg(crate_file)
        .arg("-C")
        .arg(into)
        .status()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    if !status.success() {
        return Err(format!("tar could not unpack {}: {status}", crate_file.display()));
    }
    let stem = crate_file
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".crate"))
        .ok_or_else(|| format!("{}: not a .crate file", crate_file.display()))?;
    if !into.join(stem).join("Cargo.toml").is_file() {
        return Err(format!("{}: no {stem}/Cargo.toml inside", crate_file.display()));
    }
    Ok(stem.to_owned())
}

/// Problems with the files an unpacked package carries.
fn check_contents(root: &Path, unpacked: &Path, name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for file in REQUIRED_FILES {
        if !unpacked.join(file).is_file() {
            problems.push(format!("{name}: the package has no {file}"));
        }
    }
    for file in LICENCE_FILES {
        let (Ok(packaged), Ok(original)) =
            (fs::read(unpacked.join(file)), fs::read(root.join(file)))
        else {
            continue;
        };
        if packaged != original {
            problems.push(format!(
                "{name}: the package's {file} differs from the workspace root's {file}"
            ));
        }
    }
    problems
}

/// The manifest of the check workspace: every unpacked crate a member, and
/// every dependency on a tulip crate resolved to its unpacked package.
fn check_manifest(unpacked: &[(String, String)]) -> String {
    let mut text = String::from(
        "# Made by `cargo xtask package`: the packaged crates, built together.\n\
         [workspace]\nresolver = \"3\"\nmembers = [\n",
    );
    for (_, dir) in unpacked {
        text.push_str(&format!("    \"{dir}\",\n"));
    }
    text.push_str("]\n\n[patch.crates-io]\n");
    for (name, dir) in unpacked {
        text.push_str(&format!("{name} = {{ path = \"{dir}\" }}\n"));
    }
    text
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Removes the unpacked sources of `crates` that cargo keeps for local
/// (overlay) registries: `$CARGO_HOME/registry/src/-<hash>/<crate>-<version>`.
/// Crates.io's sources are never touched.
fn forget_unpacked_packages(crates: &[String]) -> Result<(), String> {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    let Some(home) = home else { return Ok(()) };
    let Ok(registries) = fs::read_dir(home.join("registry/src")) else { return Ok(()) };
    for registry in registries.flatten() {
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        forget_builds_of(&registry.path(), crates)?;
    }
    Ok(())
}

/// Removes the entries of `dir` named `<crate>-…` for any of `crates` (build
/// fingerprints, unpacked packages), so cargo makes them afresh.
fn forget_builds_of(dir: &Path, crates: &[String]) -> Result<(), String> {
    let Ok(entries) = fs::read_dir(dir) else { return Ok(()) };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = crates
            .iter()
            .any(|c| name.strip_prefix(c.as_str()).is_some_and(|rest| rest.starts_with('-')));
        if ours {
            fs::remove_dir_all(entry.path())
                .map_err(|e| format!("package: cannot remove {}: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_read_from_the_workspace_section() {
        let manifest = "[package]\nmembers = [\"no\"]\n[workspace]\nresolver = \"3\"\n\
                        members = [\n    \"crates/a\", # the core\n    \"tests\",\n]\n\
                        default-members = [\"crates/a\"]\n";
        assert_eq!(workspace_members(manifest).unwrap(), vec!["crates/a", "tests"]);
        assert_eq!(workspace_members("[workspace]\nmembers = [\"x\"]\n").unwrap(), vec!["x"]);
        assert!(workspace_members("[workspace]\nmembers = [\"crates/*\"]\n").is_err());
        assert!(workspace_members("[package]\nname = \"x\"\n").is_err());
    }

    #[test]
    fn publish_false_is_seen_only_in_the_package_section() {
        assert!(is_published("[package]\nname = \"a\"\n"));
        assert!(!is_published("[package]\nname = \"a\"\npublish = false\n"));
        assert!(!is_published("[package]\nname = \"a\"\npublish=false\n"));
        assert!(is_published("[package]\nname = \"a\"\n[features]\npublish = false\n"));
    }

    #[test]
    fn the_workspace_publishes_the_crates_and_nothing_else() {
        let crates = publishable_crates(&workspace_root()).unwrap();
        let mut expected: Vec<String> =
            tidy::allowed_deps().keys().map(|&name| name.to_owned()).collect();
        let mut got = crates.clone();
        expected.sort();
        got.sort();
        assert_eq!(
            got, expected,
            "crates/ holds the publishable crates; others are publish = false"
        );
    }

    #[test]
    fn a_crate_file_is_found_by_exact_name() {
        let files = vec![
            "loop-core-ext-0.1.0.crate".to_owned(),
            "loop-core-0.2.0.crate".to_owned(),
            "tulip-1.0.0-rc.1.crate".to_owned(),
        ];
        assert_eq!(crate_file_for("loop-core", &files), Some("loop-core-0.2.0.crate"));
        assert_eq!(crate_file_for("loop-core-ext", &files), Some("loop-core-ext-0.1.0.crate"));
        assert_eq!(crate_file_for("tulip", &files), Some("tulip-1.0.0-rc.1.crate"));
        assert_eq!(crate_file_for("loop", &files), None);
    }

    #[test]
    fn missing_and_changed_licence_files_are_caught() {
        let dir = std::env::temp_dir().join(format!("tulip-package-{}", std::process::id()));
        let (root, unpacked) = (dir.join("root"), dir.join("unpacked"));
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&unpacked).unwrap();
        for file in LICENCE_FILES {
            fs::write(root.join(file), "licence text\n").unwrap();
        }
        fs::write(unpacked.join("README.md"), "# x\n").unwrap();
        fs::write(unpacked.join("LICENSE-MIT"), "licence text\n").unwrap();
        fs::write(unpacked.join("LICENSE-APACHE"), "licence text, edited\n").unwrap();
        let problems = check_contents(&root, &unpacked, "x");
        fs::write(unpacked.join("LICENSE-APACHE"), "licence text\n").unwrap();
        let clean = check_contents(&root, &unpacked, "x");
        fs::remove_file(unpacked.join("README.md")).unwrap();
        let no_readme = check_contents(&root, &unpacked, "x");
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("LICENSE-APACHE differs"), "{problems:?}");
        assert!(clean.is_empty(), "{clean:?}");
        assert_eq!(no_readme, vec!["x: the package has no README.md"]);
    }

    #[test]
    fn the_check_workspace_patches_every_crate_to_its_package() {
        let unpacked = [
            ("loop-core".to_owned(), "loop-core-0.1.0".to_owned()),
            ("tulip".to_owned(), "tulip-0.1.0".to_owned()),
        ];
        let manifest = check_manifest(&unpacked);
        assert_eq!(workspace_members(&manifest).unwrap(), vec!["loop-core-0.1.0", "tulip-0.1.0"]);
        assert!(
            manifest.contains("[patch.crates-io]\nloop-core = { path = \"loop-core-0.1.0\" }\n")
        );
        assert!(manifest.contains("tulip = { path = \"tulip-0.1.0\" }\n"));
    }
}
