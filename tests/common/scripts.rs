//! Running the servers' start/stop scripts in `scripts/`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// `scripts/NAME` in this crate.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

/// Run `scripts/NAME ARGS...`; panic with its output unless it succeeds.
/// Returns its stdout.
pub fn run_script(name: &str, args: &[&str]) -> String {
    let path = script(name);
    let output = Command::new(&path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        panic!(
            "scripts/{name} {} failed ({}):\n{}\n{}",
            args.join(" "),
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    stdout
}

/// A fresh directory path under the temp dir (not created), unique to this
/// process: `TMP/PREFIX-PID-NANOS`.
pub fn fresh_dir(prefix: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("{prefix}-{}-{nanos:08x}", std::process::id()))
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary directory path is UTF-8")
}

/// `scripts/NAME start DIR --watch <this pid>` in a fresh DIR: the servers
/// stop (and DIR goes) once this process exits. Returns the printed env.
pub fn start_stack(name: &str, dir_prefix: &str) -> Env {
    start_stack_with(name, dir_prefix, &[])
}

/// [`start_stack`] with more options for `start` (such as `--ssl`).
pub fn start_stack_with(name: &str, dir_prefix: &str, options: &[&str]) -> Env {
    let dir = fresh_dir(dir_prefix);
    let started = Instant::now();
    let pid = std::process::id().to_string();
    let mut args = vec!["start", path_str(&dir), "--watch", &pid];
    args.extend_from_slice(options);
    let stdout = run_script(name, &args);
    eprintln!(
        "scripts/{name} started in {:?} in {}",
        started.elapsed(),
        dir.display()
    );
    Env::parse(name, &stdout)
}

/// KEY=value lines as a script printed them.
#[derive(Debug, Clone)]
pub struct Env {
    script: String,
    pub vars: HashMap<String, String>,
}

impl Env {
    fn parse(script: &str, text: &str) -> Env {
        let vars = text
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Env {
            script: script.to_string(),
            vars,
        }
    }

    /// The value of KEY; panics when the script printed none.
    pub fn get(&self, key: &str) -> String {
        self.vars
            .get(key)
            .unwrap_or_else(|| panic!("scripts/{} printed no {key}: {:?}", self.script, self.vars))
            .clone()
    }

    /// The value of KEY as a port number.
    pub fn port(&self, key: &str) -> u16 {
        self.get(key)
            .parse()
            .unwrap_or_else(|e| panic!("scripts/{}: bad {key}: {e}", self.script))
    }
}
