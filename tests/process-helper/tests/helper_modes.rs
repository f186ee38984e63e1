//! The helper's modes do what loop-process's tests rely on. (This test
//! also makes `cargo test` build the helper binary, which those tests run.)

use std::io::Write;
use std::process::{Command, Stdio};

const HELPER: &str = env!("CARGO_BIN_EXE_tulip-process-helper");

#[test]
fn write_mode_writes_n_bytes_and_exits_with_the_code() {
    let out = Command::new(HELPER).args(["write", "100000", "7"]).output().unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(out.stdout.len(), 100_000);
    let expected: Vec<u8> = b"0123456789".iter().copied().cycle().take(100_000).collect();
    assert_eq!(out.stdout, expected);
}

#[test]
fn cat_mode_copies_stdin() {
    let mut child = Command::new(HELPER)
        .arg("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"abc\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"abc\n");
}

#[test]
fn both_mode_writes_both_streams() {
    let out = Command::new(HELPER).args(["both", "o", "e"]).output().unwrap();
    assert_eq!((out.stdout.as_slice(), out.stderr.as_slice()), (&b"o"[..], &b"e"[..]));
}

#[test]
fn sigmask_mode_reports_three_lines() {
    let out = Command::new(HELPER).arg("sigmask").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.starts_with("SigBlk:"), "{text}");
}
