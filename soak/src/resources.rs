//! What a scenario must give back: fds, threads, children (and zombies),
//! and memory, read from `/proc` before and after each scenario.

use std::fmt;
use std::fs;

/// The process's resources at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) fds: usize,
    pub(crate) threads: usize,
    pub(crate) children: usize,
    pub(crate) zombies: usize,
    pub(crate) rss_kib: u64,
}

impl Snapshot {
    pub(crate) fn take() -> Snapshot {
        let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let (children, zombies) = children();
        Snapshot {
            // The directory handle itself is one of the entries.
            fds: fs::read_dir("/proc/self/fd").map(|d| d.count().saturating_sub(1)).unwrap_or(0),
            threads: field("Threads:") as usize,
            children,
            zombies,
            rss_kib: field("VmRSS:"),
        }
    }

    /// What is still held compared with `base`, if anything: every count
    /// must be back, RSS within `rss_tolerance_kib`.
    pub(crate) fn leaks_since(&self, base: &Snapshot, rss_tolerance_kib: u64) -> Vec<String> {
        let mut out = Vec::new();
        if self.fds > base.fds {
            out.push(format!("{} fds left open", self.fds - base.fds));
        }
        if self.threads > base.threads {
            out.push(format!("{} threads left running", self.threads - base.threads));
        }
        if self.children > base.children {
            out.push(format!("{} children left", self.children - base.children));
        }
        if self.zombies > base.zombies {
            out.push(format!("{} zombies left", self.zombies - base.zombies));
        }
        if self.rss_kib > base.rss_kib + rss_tolerance_kib {
            out.push(format!(
                "RSS grew by {} KiB (tolerance {rss_tolerance_kib} KiB)",
                self.rss_kib - base.rss_kib
            ));
        }
        out
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fds {}, threads {}, children {} (zombies {}), RSS {} MiB",
            self.fds,
            self.threads,
            self.children,
            self.zombies,
            self.rss_kib / 1024
        )
    }
}

/// This process's resident set size, alone (cheap enough to sample often).
pub(crate) fn rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// This process's children and how many of them are zombies.
fn children() -> (usize, usize) {
    let me = std::process::id().to_string();
    let Ok(dir) = fs::read_dir("/proc") else { return (0, 0) };
    let (mut children, mut zombies) = (0, 0);
    for entry in dir.flatten() {
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else { continue };
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("");
        if fields.next() == Some(me.as_str()) {
            children += 1;
            if state == "Z" {
                zombies += 1;
            }
        }
    }
    (children, zombies)
}
