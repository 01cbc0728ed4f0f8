//! Surge benchmark on the real mail stack (Dovecot + OpenSMTPD on loopback),
//! measured from the donors' side: N offers wait in the donations mailbox,
//! one donor address each; the clock starts when the reader starts and stops
//! when the N-th acknowledgement has been delivered into its donor's mailbox
//! (counted from Dovecot's LMTP log, "saved mail to INBOX").
//!
//! In the same run, for comparison:
//! - the afternoon script of issue #17 (`benches/surge_script.py script`):
//!   imaplib, re, sqlite3, smtplib, one message at a time, a commit each;
//! - supplyline with one SMTP connection, against a bare send loop on one
//!   connection (`surge_script.py bare`), the ceiling per connection;
//! - four bare loops side by side, the ceiling for four connections.
//!
//! `cargo bench --bench surge` runs 2,000 and 10,000 offers (`SURGE_SIZES=2000`
//! picks sizes); without `--bench` (as `cargo test --all-targets` runs it) a
//! smoke run of 20 checks the benchmark still works. Figures go to BENCHMARKS.md.
//!
//! The stack runs with `MAIL_STACK_PROFILE=throughput` (scripts/mail-stack:
//! more concurrent deliveries, Dovecot's LMTP without fsync), as the donors'
//! mailboxes stand in for the donors' own servers; `SURGE_STACK=default`
//! runs the stack the tests use. Each contender's line also gives the CPU
//! time per message of the mail stack (every Dovecot and OpenSMTPD process,
//! with the deliveries they forked) and of the contender itself.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use supplyline::config::Config;
use tokio_util::sync::CancellationToken;

use common::mail_stack;

const DOMAIN: &str = "example.test";

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = match std::env::var("SURGE_SIZES") {
        Ok(list) => list.split(',').map(|n| n.trim().parse().unwrap()).collect(),
        Err(_) if full => vec![2_000, 10_000],
        Err(_) => vec![20],
    };
    // Before the stack starts (first use of mail_stack()), while this
    // process has one thread: the script reads it when it writes the config.
    let profile = match std::env::var("SURGE_STACK").as_deref() {
        Ok("default") => "default",
        _ => {
            std::env::set_var("MAIL_STACK_PROFILE", "throughput");
            "throughput"
        }
    };
    println!("surge: mail stack profile {profile} (SURGE_STACK=default for the tests' stack)");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for n in sizes {
            surge(n).await;
        }
    });
}

/// One size: every contender on its own mailbox of `n` waiting offers.
async fn surge(n: usize) {
    let mut log = Deliveries::open(&mail_stack().dir.join("dovecot/dovecot.log"));
    let bare_one = time_bare(n, 1, &mut log);
    let bare_four = time_bare(n, 4, &mut log);
    let script = time_script(n, &mut log);
    let ours_one = time_supplyline(n, 1, &mut log).await;
    let ours = time_supplyline(n, 4, &mut log).await;
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "surge {n}: supplyline (4 connections) {:.1} s, {:.0}/s; script {:.1} s, {:.0}/s; \
         supplyline is {:.1}x faster than the script (target >= 5)",
        ours.as_secs_f64(),
        rate(ours),
        script.as_secs_f64(),
        rate(script),
        script.as_secs_f64() / ours.as_secs_f64(),
    );
    println!(
        "surge {n}: one connection: supplyline {:.1} s, {:.0}/s; bare send loop {:.1} s, {:.0}/s; \
         ratio {:.2} (target >= 0.8); four bare loops {:.1} s, {:.0}/s",
        ours_one.as_secs_f64(),
        rate(ours_one),
        bare_one.as_secs_f64(),
        rate(bare_one),
        bare_one.as_secs_f64() / ours_one.as_secs_f64(),
        bare_four.as_secs_f64(),
        rate(bare_four),
    );
}

/// A fresh name for one contender's mailboxes: `PREFIX-desk` reads the
/// offers, `PREFIX-n0` … are the donors.
fn fresh_prefix(tag: &str) -> String {
    format!("surge{tag}{:08x}", rand::random::<u32>())
}

/// The bare loops: `loops` processes share the `n` messages.
fn time_bare(n: usize, loops: usize, log: &mut Deliveries) -> Duration {
    let prefix = fresh_prefix("bare");
    let smtp_port = mail_stack().smtp_port.to_string();
    let cpu = Cpu::now();
    let started = Instant::now();
    let children: Vec<_> = (0..loops)
        .map(|part| {
            let count = n / loops + usize::from(part < n % loops);
            Command::new("python3")
                .args(["benches/surge_script.py", "bare", &smtp_port])
                .arg(format!("desk@{DOMAIN}"))
                .arg(count.to_string())
                .arg(format!("{prefix}{part}"))
                .arg(DOMAIN)
                .spawn()
                .expect("python3 runs benches/surge_script.py")
        })
        .collect();
    // Every loop's recipients start with PREFIX.
    let took = log.wait_for(&prefix, n, started);
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a bare loop failed");
    }
    cpu.report(&format!("{loops} bare loop(s)"), n, took);
    took
}

/// The afternoon script on a mailbox of `n` waiting offers.
fn time_script(n: usize, log: &mut Deliveries) -> Duration {
    let prefix = fresh_prefix("script");
    let desk = fill_mailbox(&prefix, n);
    let db = tempfile::tempdir().unwrap();
    let stack = mail_stack();
    let cpu = Cpu::now();
    let started = Instant::now();
    let mut child = Command::new("python3")
        .args(["benches/surge_script.py", "script"])
        .args([&stack.imap_port.to_string(), &stack.smtp_port.to_string()])
        .args([&desk, &stack.password])
        .arg(db.path().join("script.sqlite"))
        .spawn()
        .expect("python3 runs benches/surge_script.py");
    let took = log.wait_for(&format!("{prefix}-n"), n, started);
    assert!(child.wait().unwrap().success(), "the script failed");
    cpu.report("the script", n, took);
    took
}

/// supplyline `serve` with `connections` SMTP connections on a mailbox of
/// `n` waiting offers.
async fn time_supplyline(n: usize, connections: usize, log: &mut Deliveries) -> Duration {
    let prefix = fresh_prefix("ours");
    let desk = fill_mailbox(&prefix, n);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &desk, connections);
    let token = CancellationToken::new();
    let cpu = Cpu::now();
    let started = Instant::now();
    let serve = tokio::spawn(supplyline::daemon::serve(config, token.clone()));
    let prefix_donors = format!("{prefix}-n");
    let took = tokio::task::block_in_place(|| log.wait_for(&prefix_donors, n, started));
    cpu.report(&format!("supplyline, {connections} connection(s)"), n, took);
    token.cancel();
    serve.await.unwrap().unwrap();
    took
}

/// The config: the stack's plaintext ports, the reply limits out of the
/// way (every donor here is in one domain, which a real surge is not).
fn config(dir: &Path, desk: &str, connections: usize) -> Config {
    let s = mail_stack();
    let text = format!(
        "[database]\nurl = \"sqlite://{db}\"\n\n\
         [imap]\nhost = \"127.0.0.1\"\nport = {imap}\nsecurity = \"none\"\nallow_insecure = true\n\
         username = \"{desk}\"\npassword = \"{pw}\"\n\
         acknowledge_since = \"2000-01-01T00:00:00Z\"\n\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\nsecurity = \"none\"\nallow_insecure = true\n\
         connections = {connections}\n\n\
         [donations]\naddress = \"{desk}\"\nreply_window_secs = 0\n\
         replies_per_hour = 1000000\nreplies_per_domain_per_hour = 1000000\n",
        db = dir.join("db.sqlite").display(),
        imap = s.imap_port,
        smtp = s.smtp_port,
        pw = s.password,
    );
    Config::from_str_with_env(&text, Path::new("surge.toml"), std::iter::empty()).unwrap()
}

/// Writes `n` offers into the Maildir of `PREFIX-desk@example.test`, as
/// delivered mail waits there (Dovecot reads them on the next login), each
/// from its own donor `PREFIX-nI@example.test`; returns the desk's address.
fn fill_mailbox(prefix: &str, n: usize) -> String {
    let desk = format!("{prefix}-desk");
    let home = mail_stack().dir.join("mail").join(DOMAIN).join(&desk);
    let (uid, gid) = dovecot_ids();
    let maildir = home.join("Maildir");
    for dir in [home.clone(), maildir.clone()]
        .into_iter()
        .chain(["cur", "new", "tmp"].map(|d| maildir.join(d)))
    {
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
    }
    for i in 0..n {
        let path = maildir.join("new").join(format!("{i}.surge.bench"));
        std::fs::write(&path, offer(&format!("{prefix}-n{i}@{DOMAIN}"), &desk, i)).unwrap();
        std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
    }
    format!("{desk}@{DOMAIN}")
}

fn offer(donor: &str, desk: &str, i: usize) -> String {
    format!(
        "From: Donor {i} <{donor}>\r\nTo: {desk}@{DOMAIN}\r\nSubject: Donation of masks\r\n\
         Message-ID: <{i}.{:016x}@surge.example>\r\nDate: Mon, 23 Mar 2020 09:00:00 -0700\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Hello, our clinic can donate {} N95 masks and 40 isolation gowns.\r\n\
         Pickup weekdays 9-5 at 200 N Spring St, Los Angeles, CA 90012.\r\n\
         Call 213-555-0100.\r\n",
        rand::random::<u64>(),
        100 + i
    )
}

/// The dovecot user and group, owners of the stack's mail.
fn dovecot_ids() -> (u32, u32) {
    let id = |flag: &str| {
        let out = Command::new("id").args([flag, "dovecot"]).output().unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    (id("-u"), id("-g"))
}

/// CPU seconds spent so far by this process with its waited-for children
/// (a contender), and by the mail stack's processes.
struct Cpu {
    own: f64,
    stack: f64,
}

impl Cpu {
    fn now() -> Cpu {
        let usage = |who| {
            // SAFETY: getrusage writes one rusage into the zeroed value.
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            unsafe { libc::getrusage(who, &mut ru) };
            let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            secs(ru.ru_utime) + secs(ru.ru_stime)
        };
        Cpu {
            own: usage(libc::RUSAGE_SELF) + usage(libc::RUSAGE_CHILDREN),
            stack: stack_cpu_seconds(),
        }
    }

    /// One line: CPU per message of the contender and of the stack, and
    /// how many cores the two kept busy together while it ran.
    fn report(&self, who: &str, n: usize, took: Duration) {
        let now = Cpu::now();
        let per = |secs: f64| secs * 1000.0 / n as f64;
        let own = now.own - self.own;
        let stack = now.stack - self.stack;
        println!(
            "  {who}: {:.1} s; CPU per message {:.2} ms own, {:.2} ms mail stack \
             ({:.2} cores busy together); load average {:.1}",
            took.as_secs_f64(),
            per(own),
            per(stack),
            (own + stack) / took.as_secs_f64(),
            load_average(),
        );
    }
}

/// CPU seconds of every process under Dovecot's master and OpenSMTPD's
/// parent, each with the CPU of its children that exited (OpenSMTPD forks
/// one delivery program per message, Dovecot reaps its LMTP workers).
fn stack_cpu_seconds() -> f64 {
    let dir = &mail_stack().dir;
    let root = |file: &str| -> i64 {
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        text.trim().parse().unwrap_or(-1)
    };
    let roots = [root("dovecot/dovecot.pid"), root("smtpd/smtpd.pid")];
    // pid -> (parent, CPU seconds with reaped children)
    let mut procs = std::collections::HashMap::new();
    let tick = 100.0; // USER_HZ on Linux
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i64>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // After "pid (comm) ": state ppid ... utime stime cutime cstime
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        let parent: i64 = fields[1].parse().unwrap_or(0);
        let ticks: f64 = fields[11..15]
            .iter()
            .map(|f| f.parse::<f64>().unwrap_or(0.0))
            .sum();
        procs.insert(pid, (parent, ticks / tick));
    }
    let in_stack = |mut pid: i64| {
        for _ in 0..64 {
            if roots.contains(&pid) {
                return true;
            }
            match procs.get(&pid) {
                Some(&(parent, _)) if parent > 0 => pid = parent,
                _ => return false,
            }
        }
        false
    };
    procs
        .iter()
        .filter(|(&pid, _)| in_stack(pid))
        .map(|(_, &(_, secs))| secs)
        .sum()
}

fn load_average() -> f64 {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split(' ')
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or(0.0)
}

/// Dovecot's log, read as it grows: LMTP deliveries by recipient prefix.
struct Deliveries {
    path: PathBuf,
    offset: u64,
    partial: String,
    seen: Vec<String>,
}

impl Deliveries {
    fn open(path: &Path) -> Deliveries {
        let offset = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        Deliveries {
            path: path.to_path_buf(),
            offset,
            partial: String::new(),
            seen: Vec::new(),
        }
    }

    /// Waits until `n` messages were delivered to recipients starting with
    /// `prefix`; returns the time from `started` to the n-th.
    fn wait_for(&mut self, prefix: &str, n: usize, started: Instant) -> Duration {
        let needle = format!("lmtp({prefix}");
        let limit = Duration::from_secs(60 + n as u64 / 5);
        loop {
            self.read_new();
            let done = self
                .seen
                .iter()
                .filter(|line| line.contains(&needle))
                .count();
            if done >= n {
                let took = started.elapsed();
                self.seen.retain(|line| !line.contains(&needle));
                return took;
            }
            assert!(
                started.elapsed() < limit,
                "{prefix}: {done} of {n} delivered after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn read_new(&mut self) {
        let mut file = std::fs::File::open(&self.path).unwrap();
        file.seek(SeekFrom::Start(self.offset)).unwrap();
        let mut text = String::new();
        self.offset += file.read_to_string(&mut text).unwrap() as u64;
        self.partial.push_str(&text);
        let complete = self.partial.rfind('\n').map_or(0, |i| i + 1);
        let lines: Vec<String> = self.partial[..complete]
            .lines()
            .filter(|l| l.contains("saved mail to INBOX"))
            .map(str::to_string)
            .collect();
        self.partial.drain(..complete);
        self.seen.extend(lines);
    }
}
