//! A child for loop-process's tests. One mode per run, chosen by the first
//! argument:
//!
//! * `cat` — copy stdin to stdout until EOF, exit 0;
//! * `write N C` — write N bytes (`0123456789` repeated) to stdout, exit C;
//! * `both OUT ERR` — write OUT to stdout and ERR to stderr, exit 0;
//! * `ignore-term` — ignore SIGTERM, print `ready`, sleep forever;
//! * `sleep` — print `ready`, sleep forever;
//! * `sigmask` — print the `SigBlk`, `SigIgn` and `SigCgt` lines of
//!   `/proc/self/status` (signal mask, ignored and caught signals), exit 0;
//! * `exit C` — exit with code C at once.

use std::io::{self, Read, Write};
use std::process::ExitCode;

mod sys;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let num = |i: usize| arg(i).parse::<u64>().unwrap_or(0);
    let result = match arg(0) {
        "cat" => cat(),
        "write" => write_n(num(1)).map(|()| code(num(2))),
        "both" => both(arg(1), arg(2)),
        "ignore-term" => {
            sys::ignore_sigterm();
            sleep_forever()
        }
        "sleep" => sleep_forever(),
        "sigmask" => sigmask(),
        "exit" => Ok(code(num(1))),
        other => {
            eprintln!("tulip-process-helper: unknown mode {other:?}");
            Ok(ExitCode::from(2))
        }
    };
    result.unwrap_or_else(|e| {
        eprintln!("tulip-process-helper: {e}");
        ExitCode::from(3)
    })
}

fn code(c: u64) -> ExitCode {
    ExitCode::from(u8::try_from(c).unwrap_or(255))
}

fn cat() -> io::Result<ExitCode> {
    let mut buf = vec![0u8; 64 * 1024];
    let (mut stdin, mut stdout) = (io::stdin().lock(), io::stdout().lock());
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        stdout.write_all(&buf[..n])?;
    }
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn write_n(n: u64) -> io::Result<()> {
    let chunk: Vec<u8> = b"0123456789".iter().copied().cycle().take(64 * 1024 - 4).collect();
    let mut stdout = io::stdout().lock();
    let mut left = n;
    let mut offset = 0usize;
    while left > 0 {
        // Keep the pattern continuous across chunks: start where the last
        // one stopped.
        let take = left.min((chunk.len() - 10) as u64) as usize;
        let start = offset % 10;
        stdout.write_all(&chunk[start..start + take])?;
        offset += take;
        left -= take as u64;
    }
    stdout.flush()
}

fn both(out: &str, err: &str) -> io::Result<ExitCode> {
    io::stdout().write_all(out.as_bytes())?;
    io::stdout().flush()?;
    io::stderr().write_all(err.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn sleep_forever() -> io::Result<ExitCode> {
    println!("ready");
    io::stdout().flush()?;
    loop {
        std::thread::park();
    }
}

fn sigmask() -> io::Result<ExitCode> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    for line in status.lines() {
        if line.starts_with("SigBlk:") || line.starts_with("SigIgn:") || line.starts_with("SigCgt:")
        {
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
