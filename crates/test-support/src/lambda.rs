//! A Lambda-compatible Invoke endpoint (`testdata/lambda/invoke_server.py`) running the
//! unmodified Python handlers of `testdata/lambda/functions/`, for the `Lambda` processor's
//! tests. Standard-library Python: it needs only the interpreter ([`crate::python`]).
//!
//! Requests must be SigV4-signed for service `lambda` with access key [`ACCESS_KEY`] (any
//! secret); see the script's docstring for the errors it answers like Lambda.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::{paths, python};

/// The access key the endpoint accepts.
pub const ACCESS_KEY: &str = "AKIDLAMBDATEST";

/// The running endpoint; stopped when dropped.
#[derive(Debug)]
pub struct InvokeServer {
    child: Child,
    url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl InvokeServer {
    /// Start it with the script's flags (`--timeout NAME=SECONDS`, `--throttle NAME=N`) and
    /// extra environment for the handlers.
    ///
    /// # Panics
    ///
    /// When Python is missing or the script does not start.
    pub fn start(flags: &[&str], env: &[(&str, &str)]) -> Self {
        let script = paths::testdata_dir().join("lambda/invoke_server.py");
        let mut child = Command::new(python::interpreter())
            .arg(script)
            .args(flags)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the invoke server");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines
            .next()
            .expect("the invoke server prints its address")
            .expect("a line");
        let addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().expect("lock").push(line);
            }
        });
        Self {
            child,
            url: format!("http://{addr}"),
            log,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Invocations answered with `result` (`ok`, `error`, `timeout`, `throttled`).
    ///
    /// # Panics
    ///
    /// When the log lock is poisoned.
    pub fn calls(&self, result: &str) -> usize {
        let needle = format!("\"result\": \"{result}\"");
        self.log
            .lock()
            .expect("lock")
            .iter()
            .filter(|l| l.contains(&needle))
            .count()
    }
}

impl InvokeServer {
    /// Records the function was invoked with, over the invocations answered with `result`.
    ///
    /// # Panics
    ///
    /// When the log lock is poisoned.
    pub fn records(&self, result: &str) -> usize {
        let needle = format!("\"result\": \"{result}\"");
        self.log
            .lock()
            .expect("lock")
            .iter()
            .filter(|l| l.contains(&needle))
            .filter_map(|l| {
                let rest = &l[l.find("\"records\": ")? + "\"records\": ".len()..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse::<usize>().ok()
            })
            .sum()
    }
}

impl Drop for InvokeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
