//! Starts the real `uring_php` binary on an ephemeral loopback port.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct TestServer {
    child: Option<Child>,
    addr: String,
    log: Arc<Mutex<String>>,
}

pub struct TestServerBuilder {
    cmd: Command,
}

impl TestServerBuilder {
    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    pub fn arg(mut self, a: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg(a);
        self
    }

    pub fn start(mut self) -> TestServer {
        self.cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("start uring_php");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if !sent {
                    if let Some(addr) = listening_addr(&line) {
                        let _ = tx.send(addr);
                        sent = true;
                    }
                }
                let mut l = log2.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!("uring_php did not start; log:\n{}", log.lock().unwrap());
            }
        };
        TestServer {
            child: Some(child),
            addr,
            log,
        }
    }
}

/// The address from the JSON log line "listening on http://ADDR".
fn listening_addr(line: &str) -> Option<String> {
    let i = line.find("listening on http://")?;
    let rest = &line[i + "listening on http://".len()..];
    let end = rest
        .find(|c: char| c == '"' || c.is_whitespace())
        .unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

impl TestServer {
    /// A server for `docroot` with JSON logs on 127.0.0.1:0; more settings via the builder.
    pub fn builder(docroot: &Path) -> TestServerBuilder {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_uring_php"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("DOCUMENT_ROOT", docroot)
            .env("LOG_FORMAT", "json")
            .env("LOG_LEVEL", "info");
        TestServerBuilder { cmd }
    }

    pub fn start(docroot: &Path) -> TestServer {
        Self::builder(docroot).start()
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> String {
        self.addr.clone()
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The internal server's address (INTERNAL_ADDR), from its log line.
    pub fn internal_addr(&self) -> String {
        self.logged_addr("internal server on http://")
    }

    /// The address the log names right after `marker` (e.g. "listening on https://"),
    /// waiting up to 10 s for the line.
    pub fn logged_addr(&self, marker: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if let Some(i) = log.find(marker) {
                let rest = &log[i + marker.len()..];
                let end = rest
                    .find(|c: char| c == '"' || c.is_whitespace())
                    .unwrap_or(rest.len());
                return rest[..end].to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no {marker:?} in the log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    /// Sends `signal` (e.g. libc's SIGTERM number) via kill(1).
    pub fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status();
    }

    /// Waits for the process to exit (up to `timeout`).
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(s)) = child.try_wait() {
                self.child = None;
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
