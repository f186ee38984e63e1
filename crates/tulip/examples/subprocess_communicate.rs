//! asyncio's `create_subprocess_exec` + `communicate`: start a child with
//! pipes, send it input, collect what it writes to stdout and stderr, and
//! read its exit code. (asyncio's docs run `ls` through the shell; this
//! one sorts words with `sort`, then shows a failing command's stderr.)

use tulip::prelude::*;
use tulip::process::SubprocessOptions;

/// Runs `program args…` with `input` on stdin and reports what it did.
async fn run(program: &str, args: &[&str], input: &[u8]) -> tulip::Result<i32> {
    let lp = get_running_loop()?;
    // stdin, stdout and stderr are pipes (the default).
    let mut proc = lp.create_subprocess_exec(program, args, SubprocessOptions::new()).await?;
    println!("[{program} {args:?} started, pid {}]", proc.pid());

    // Write the input, close stdin, read both outputs to EOF and wait —
    // all at once, so a chatty child cannot deadlock us.
    let out = proc.communicate(Some(input)).await?;

    let code = out.status.returncode();
    println!("[{program} {args:?} exited with {code}]");
    if !out.stdout.is_empty() {
        println!("[stdout]\n{}", String::from_utf8_lossy(&out.stdout).trim_end());
    }
    if !out.stderr.is_empty() {
        println!("[stderr]\n{}", String::from_utf8_lossy(&out.stderr).trim_end());
    }
    Ok(code)
}

fn main() -> tulip::Result<()> {
    let (sorted, failed) = tulip::run(async {
        let sorted = run("sort", &["-u"], b"pear\napple\nfig\napple\n").await?;
        let failed = run("ls", &["/nonexistent-tulip-example"], b"").await?;
        Ok::<_, tulip::Error>((sorted, failed))
    })??;
    assert_eq!(sorted, 0);
    assert_ne!(failed, 0, "ls of a missing path fails");
    Ok(())
}
