//! Subprocesses: many `true` children in sequence, then many at once; each
//! is spawned, waited for and reaped (the harness checks that no child and
//! no zombie is left).

use std::time::Duration;

use tulip::prelude::*;
use tulip::process::{Stdio, SubprocessOptions};

use crate::{Scale, run_bounded};

struct Quiet;
impl BaseProtocol<SubprocessTransport> for Quiet {}
impl SubprocessProtocol for Quiet {}

fn opts() -> SubprocessOptions {
    SubprocessOptions::new().stdin(Stdio::DevNull).stdout(Stdio::DevNull).stderr(Stdio::DevNull)
}

async fn spawn_and_wait(lp: &Loop) -> Result<(), String> {
    let (t, _p) = lp
        .subprocess_exec(|| Quiet, "true", Vec::<String>::new(), opts())
        .await
        .map_err(|e| format!("spawn: {e}"))?;
    t.wait().await.map_err(|e| format!("wait: {e}"))?;
    match t.get_returncode() {
        Some(0) => Ok(()),
        other => Err(format!("`true` ended with {other:?}")),
    }
}

pub(crate) fn run(scale: Scale) -> Result<String, String> {
    let sequential: usize = scale.pick(10_000, 200);
    let at_once: usize = scale.pick(200, 50);
    run_bounded(Duration::from_secs(scale.pick(600, 60)), async move {
        let lp = get_running_loop().map_err(|e| e.to_string())?;
        for _ in 0..sequential {
            spawn_and_wait(&lp).await?;
        }
        let mut tasks = Vec::new();
        for _ in 0..at_once {
            let l2 = lp.clone();
            tasks.push(
                lp.create_task(async move { spawn_and_wait(&l2).await })
                    .map_err(|e| e.to_string())?,
            );
        }
        for t in tasks {
            t.await.map_err(|e| e.to_string())??;
        }
        Ok(format!(
            "{sequential} children in sequence and {at_once} at once, each waited for and reaped"
        ))
    })
}
