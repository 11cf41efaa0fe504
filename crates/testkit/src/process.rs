//! [`Trawl`]: the real `trawl serve` binary as a child process, and [`run_cli`] for the
//! short-lived subcommands (`trawl config`).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long `trawl serve` may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How many of the child's last stderr lines are kept for failure messages.
const STDERR_TAIL: usize = 200;

/// The line `trawl serve` prints on stdout once bound, before the URL.
const LISTENING_PREFIX: &str = "trawl listening on ";

/// A running `trawl serve`, on a port chosen by the OS, with its SQLite file in a
/// directory the test owns. Killed (SIGKILL) on drop if still running.
///
/// The child gets `TRAWL__API__BIND=127.0.0.1:0` and
/// `TRAWL__STORE__URL=sqlite://<db_dir>/trawl.db`; the test's `env` comes after and
/// wins. `TRAWL_*` variables of the test's own environment are not inherited, so a
/// developer's shell cannot change what a test proves. Nothing allows private networks
/// by default: tests that fetch from loopback pass
/// [`ALLOW_LOOPBACK`](crate::ALLOW_LOOPBACK).
///
/// The child's stderr (its logs) is forwarded to the test's stderr only when `TEST_LOG`
/// is set; its last lines are always kept for [`Trawl::stderr_tail`].
pub struct Trawl {
    child: Child,
    base_url: String,
    db_dir: PathBuf,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl Trawl {
    /// Starts `bin serve` (pass `env!("CARGO_BIN_EXE_trawl")`) with its database in
    /// `db_dir` and `env` on top, and waits (at most 30 s) for its listening line.
    /// Panics, with the child's stderr, when it exits or stays silent instead.
    pub fn start(bin: &str, db_dir: &Path, env: &[(&str, &str)]) -> Trawl {
        let db_url = format!("sqlite://{}", db_dir.join("trawl.db").display());
        let service = [
            ("TRAWL__API__BIND", "127.0.0.1:0"),
            ("TRAWL__STORE__URL", db_url.as_str()),
        ];
        let mut child = spawn_piped(bin, &["serve"], &[&service[..], env].concat());

        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        forward_stderr(
            child.stderr.take().expect("stderr is piped"),
            Arc::clone(&stderr),
        );

        // stdout is read on its own thread until the child closes it, so the child never
        // blocks (or dies of SIGPIPE) writing to it; the first listening line is sent back.
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel::<String>();
        thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.trim().strip_prefix(LISTENING_PREFIX) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(url.trim().to_owned());
                    }
                }
            }
        });

        let deadline = Instant::now() + START_TIMEOUT;
        let base_url = loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(url) => break url,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = wait_deadline(&mut child, Instant::now() + Duration::from_secs(5));
                    panic!(
                        "trawl serve closed stdout without a listening line (exit: {status:?}); \
                         stderr:\n{}",
                        tail_text(&stderr)
                    );
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                // The line may have been sent just before the exit.
                if let Ok(url) = rx.try_recv() {
                    break url;
                }
                panic!(
                    "trawl serve exited with {status} before listening; stderr:\n{}",
                    tail_text(&stderr)
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "trawl serve printed no listening line within {START_TIMEOUT:?}; stderr:\n{}",
                    tail_text(&stderr)
                );
            }
        };
        assert!(
            base_url.starts_with("http://127.0.0.1:"),
            "the listening line must name http://127.0.0.1:PORT, got {base_url:?}"
        );
        Trawl {
            child,
            base_url,
            db_dir: db_dir.to_owned(),
            stderr,
        }
    }

    /// `http://127.0.0.1:PORT`, as the listening line printed it (no trailing slash).
    pub fn base_url(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }

    /// The absolute URL of `path` (which starts with `/`) on this service.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url(), path)
    }

    /// The directory holding this service's SQLite file.
    pub fn db_dir(&self) -> &Path {
        &self.db_dir
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's peak resident set size in bytes so far (`VmHWM` of
    /// `/proc/<pid>/status`), or `None` where `/proc` does not tell (not Linux, or the
    /// process is gone).
    pub fn peak_rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        let kib: u64 = line
            .trim_start_matches("VmHWM:")
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib * 1024)
    }

    /// The child's last stderr lines (its logs), for failure messages.
    pub fn stderr_tail(&self) -> String {
        tail_text(&self.stderr)
    }

    /// Kills the process at once (SIGKILL, as `kill -9` does) and reaps it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits at most `timeout` for the process to exit. Returns its exit
    /// status; panics (after a SIGKILL) if it outlives the timeout.
    pub fn terminate(mut self, timeout: Duration) -> ExitStatus {
        self.signal(libc::SIGTERM);
        match wait_deadline(&mut self.child, Instant::now() + timeout) {
            Some(status) => status,
            None => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "trawl serve did not exit within {timeout:?} of SIGTERM; stderr:\n{}",
                    tail_text(&self.stderr)
                );
            }
        }
    }

    /// Sends `signal` (a `libc::SIG*` number) to the process.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) with a pid this struct owns and has not reaped; no memory is shared.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(
            rc,
            0,
            "kill({pid}, {signal}) failed: {}",
            std::io::Error::last_os_error()
        );
    }
}

impl Drop for Trawl {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a finished `trawl` command left behind.
#[derive(Debug)]
pub struct CliOutput {
    /// Its exit status.
    pub status: ExitStatus,
    /// Everything it wrote on stdout.
    pub stdout: String,
    /// Everything it wrote on stderr.
    pub stderr: String,
}

/// Runs `bin args...` with `env` (and no inherited `TRAWL_*` variables), waits at most
/// `timeout` for it to exit, and returns what it printed. Panics (after a SIGKILL) on
/// timeout, so a command that should fail fast but serves instead cannot hang a test.
pub fn run_cli(bin: &str, args: &[&str], env: &[(&str, &str)], timeout: Duration) -> CliOutput {
    let mut child = spawn_piped(bin, args, env);
    let stdout = read_all(child.stdout.take().expect("stdout is piped"));
    let stderr = read_all(child.stderr.take().expect("stderr is piped"));
    let Some(status) = wait_deadline(&mut child, Instant::now() + timeout) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("`trawl {}` did not exit within {timeout:?}", args.join(" "));
    };
    CliOutput {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Starts `bin args...` with `env`, without the test's own `TRAWL_*` variables and with
/// `RUST_LOG` kept only when `TEST_LOG` asks for logs; no stdin, stdout and stderr piped.
fn spawn_piped(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut command = Command::new(bin);
    command.args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TRAWL") {
            command.env_remove(&key);
        }
    }
    if std::env::var_os("TEST_LOG").is_none() {
        command.env_remove("RUST_LOG");
    }
    command
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"))
}

/// Reads `stream` to the end on its own thread.
fn read_all(mut stream: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Keeps the child's last stderr lines, and echoes them when `TEST_LOG` is set.
fn forward_stderr(stream: impl Read + Send + 'static, tail: Arc<Mutex<VecDeque<String>>>) {
    let echo = std::env::var_os("TEST_LOG").is_some();
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if echo {
                eprintln!("[trawl] {line}");
            }
            let mut tail = tail.lock().expect("stderr tail lock");
            if tail.len() == STDERR_TAIL {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    });
}

fn tail_text(tail: &Mutex<VecDeque<String>>) -> String {
    let tail = tail.lock().expect("stderr tail lock");
    tail.iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Polls `child` until it exits or `deadline` passes (then `None`).
fn wait_deadline(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}
