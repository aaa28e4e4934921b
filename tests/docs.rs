//! The documentation and deployment files against the real binary and the real scripts:
//!
//! - docs/configuration.md lists exactly the environment variables (and flags) that
//!   `uring_php --help` accepts (scripts/gen-config-docs.sh writes it);
//! - docker/Dockerfile's build stage runs the project's own build scripts, the ones CI
//!   runs (referenced, not copied);
//! - every variable the deployment files set (Dockerfile, compose, systemd unit,
//!   Kubernetes ConfigMap) is one the binary accepts;
//! - the shutdown timeouts of systemd, compose and Kubernetes leave room for the drain;
//! - the seccomp profile allows io_uring;
//! - the binary speaks systemd's notify protocol (READY=1, STOPPING=1) for Type=notify;
//! - relative links in docs/ and README.md point at files that exist, and README.md links
//!   the documentation index.

use std::collections::BTreeSet;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

/// `uring_php --help` in a clean environment (clap prints current values otherwise).
fn help() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_uring_php"))
        .arg("--help")
        .env_clear()
        .output()
        .expect("running uring_php --help");
    assert!(
        out.status.success(),
        "uring_php --help failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("--help is UTF-8")
}

/// The `NAME`s of `[env: NAME=...]` in `--help`.
fn help_env_vars(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter_map(|l| l.trim().strip_prefix("[env: "))
        .map(|rest| rest.split('=').next().unwrap().to_string())
        .collect()
}

/// The long flags (`--name`) in `--help`, without --help and --version.
fn help_flags(help: &str) -> BTreeSet<String> {
    help.lines()
        .map(str::trim)
        .filter_map(|l| {
            let l = l
                .strip_prefix("-h, ")
                .or_else(|| l.strip_prefix("-V, "))
                .unwrap_or(l);
            let flag = l.strip_prefix("--")?.split([' ', ',']).next()?;
            (!flag.is_empty()).then(|| format!("--{flag}"))
        })
        .filter(|f| f != "--help" && f != "--version")
        .collect()
}

/// Rows of the table in docs/configuration.md: (first cell, second cell).
fn reference_rows() -> Vec<(String, String)> {
    read("docs/configuration.md")
        .lines()
        .filter(|l| l.starts_with("| "))
        .map(|l| {
            let cells: Vec<&str> = l.split(" | ").collect();
            (
                cells[0].trim_start_matches("| ").to_string(),
                cells.get(1).copied().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn backticked(cell: &str) -> Option<String> {
    let inner = cell.trim().strip_prefix('`')?;
    Some(inner[..inner.find('`')?].to_string())
}

#[test]
fn configuration_reference_lists_exactly_the_variables_of_help() {
    let help = help();
    let accepted = help_env_vars(&help);
    assert!(
        accepted.contains("LISTEN_ADDR") && accepted.len() > 20,
        "parsed too few variables from --help: {accepted:?}"
    );

    let rows = reference_rows();
    let documented: BTreeSet<String> = rows
        .iter()
        .filter_map(|(env, _)| backticked(env))
        .filter(|name| name != "PHP_INI_<NAME>")
        .collect();
    let missing: Vec<_> = accepted.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&accepted).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/configuration.md is out of date (run scripts/gen-config-docs.sh):\n  \
         accepted by the binary but not documented: {missing:?}\n  documented but not accepted: {extra:?}"
    );

    // PHP_INI_<NAME> is a pattern, not a variable clap knows: it must be documented as one.
    assert!(
        rows.iter().any(|(env, _)| env.contains("`PHP_INI_<NAME>`")),
        "docs/configuration.md must document the PHP_INI_<NAME> pattern"
    );

    let flags = help_flags(&help);
    let doc_flags: BTreeSet<String> = rows
        .iter()
        .filter_map(|(_, flag)| backticked(flag))
        .map(|f| f.split(' ').next().unwrap().to_string())
        .collect();
    let missing: Vec<_> = flags.difference(&doc_flags).collect();
    let extra: Vec<_> = doc_flags.difference(&flags).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "flags out of date in docs/configuration.md (run scripts/gen-config-docs.sh): missing {missing:?}, extra {extra:?}"
    );
}

/// The instructions of one stage of a Dockerfile, continuation lines joined.
fn dockerfile_stage(dockerfile: &str, stage: &str) -> Vec<String> {
    let mut joined = Vec::new();
    let mut cur = String::new();
    for line in dockerfile.lines() {
        let t = line.trim();
        if t.starts_with('#') {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(head) => {
                cur.push_str(head);
                cur.push(' ');
            }
            None => {
                cur.push_str(t);
                if !cur.trim().is_empty() {
                    joined.push(cur.trim().to_string());
                }
                cur.clear();
            }
        }
    }
    let start = joined
        .iter()
        .position(|i| i.starts_with("FROM ") && i.ends_with(&format!(" AS {stage}")))
        .unwrap_or_else(|| panic!("docker/Dockerfile has no stage named {stage}"));
    joined[start..]
        .iter()
        .enumerate()
        .take_while(|(n, i)| *n == 0 || !i.starts_with("FROM "))
        .map(|(_, i)| i.clone())
        .collect()
}

/// `scripts/....sh` paths named in a text.
fn scripts_named(text: &str) -> BTreeSet<String> {
    text.split(|c: char| {
        c.is_whitespace() || c == ';' || c == '"' || c == '(' || c == ')' || c == '|'
    })
    .filter_map(|w| {
        let w = w.trim_start_matches("./");
        (w.starts_with("scripts/") && w.ends_with(".sh")).then(|| w.to_string())
    })
    .collect()
}

#[test]
fn dockerfile_build_stage_runs_the_scripts_ci_runs() {
    let dockerfile = read("docker/Dockerfile");
    let build = dockerfile_stage(&dockerfile, "build");
    let runs: Vec<&String> = build.iter().filter(|i| i.starts_with("RUN ")).collect();
    let run_text = runs
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let named = scripts_named(&run_text);

    // The build stage's steps are the project's scripts ...
    for script in ["scripts/build-php.sh", "scripts/build.sh"] {
        assert!(
            named.contains(script),
            "the Dockerfile's build stage must run {script}; it runs: {run_text}"
        );
    }
    for script in &named {
        let meta =
            std::fs::metadata(root().join(script)).unwrap_or_else(|e| panic!("{script}: {e}"));
        use std::os::unix::fs::PermissionsExt;
        assert!(
            meta.permissions().mode() & 0o111 != 0,
            "{script} must be executable"
        );
    }
    // ... referenced, not copied: none of what those scripts do by themselves.
    for copied in [
        "./configure",
        "apt-get source",
        "--enable-zts",
        "cargo build",
        "rustup",
        "php-config",
        "make -j",
    ] {
        assert!(
            !run_text.contains(copied),
            "the Dockerfile's build stage copies a script's work ({copied:?}); call the script"
        );
    }

    // CI (.ci/run) runs scripts/test.sh, which runs scripts/build-php.sh: the PHP build
    // the image contains is the one CI tests. scripts/build.sh (the README's build) does
    // the same PHP build, then cargo build --release --locked.
    let ci = read(".ci/run");
    assert!(
        scripts_named(&ci).contains("scripts/test.sh"),
        ".ci/run no longer runs scripts/test.sh: {ci}"
    );
    let test_sh = read("scripts/test.sh");
    assert!(
        scripts_named(&test_sh).contains("scripts/build-php.sh"),
        "scripts/test.sh no longer runs scripts/build-php.sh"
    );
    let build_sh = read("scripts/build.sh");
    assert!(
        scripts_named(&build_sh).contains("scripts/build-php.sh"),
        "scripts/build.sh no longer runs scripts/build-php.sh"
    );
    assert!(
        build_sh.contains("cargo build --release"),
        "scripts/build.sh no longer builds the release binary"
    );

    // The runtime stage copies the build stage's output and starts the binary.
    assert!(
        dockerfile.contains("COPY --from=build"),
        "the runtime stage must copy from the build stage"
    );
    assert!(
        dockerfile.contains("HEALTHCHECK") && dockerfile.contains("/health"),
        "HEALTHCHECK on /health"
    );
    assert!(
        dockerfile
            .lines()
            .any(|l| l.starts_with("USER ") && !l.contains("root") && !l.contains(" 0")),
        "non-root USER"
    );
}

/// `NAME=` assignments in shell-like or YAML text (ENV lines, Environment=, data:).
fn names_set_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') {
            continue;
        }
        if t.starts_with("ARG ") {
            continue;
        }
        let t = t.strip_prefix("ENV ").unwrap_or(t);
        let t = t.strip_prefix("Environment=").unwrap_or(t);
        for word in t.split_whitespace() {
            let name: String = word
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            let rest = &word[name.len()..];
            if name.len() > 2
                && name.starts_with(|c: char| c.is_ascii_uppercase())
                && (rest.starts_with('=') || rest.starts_with(':'))
            {
                out.insert(name);
            }
        }
    }
    out
}

#[test]
fn deployment_files_set_only_variables_the_binary_accepts() {
    let accepted = help_env_vars(&help());
    // Variables that are not the server's own settings.
    let other = ["DEBIAN_FRONTEND", "URING_PHP_CACHE"];
    for file in [
        "docker/Dockerfile",
        "docker/docker-compose.yml",
        "deploy/uring_php.service",
        "deploy/kubernetes/configmap.yaml",
    ] {
        let text = read(file);
        let names = names_set_in(&text);
        assert!(!names.is_empty(), "found no variables in {file}");
        for name in names {
            if name.starts_with("PHP_INI_") || other.contains(&name.as_str()) {
                continue;
            }
            // YAML keys like `LOG_LEVEL: info` in compose's environment are what we look for;
            // upper-case words elsewhere in YAML are not keys.
            assert!(
                accepted.contains(&name),
                "{file} sets {name}, which uring_php --help does not list"
            );
        }
    }
}

fn default_of(help: &str, var: &str) -> String {
    let mut lines = help
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with(&format!("[env: {var}=")));
    lines
        .next()
        .unwrap_or_else(|| panic!("{var} not in --help"));
    let line = lines.next().unwrap_or_default();
    line.strip_prefix("[default: ")
        .and_then(|d| d.strip_suffix(']'))
        .unwrap_or_else(|| panic!("no default for {var}"))
        .to_string()
}

fn number_after(text: &str, key: &str) -> u64 {
    let at = text.find(key).unwrap_or_else(|| panic!("{key} not found"));
    text[at + key.len()..]
        .trim_start_matches([' ', '"', ':', '='])
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no number after {key}"))
}

#[test]
fn shutdown_timeouts_leave_room_for_the_drain() {
    let drain: u64 = default_of(&help(), "DRAIN_TIMEOUT_SECS").parse().unwrap();

    let unit = read("deploy/uring_php.service");
    for line in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
    ] {
        assert!(
            unit.lines().any(|l| l.trim() == line),
            "deploy/uring_php.service lacks {line}"
        );
    }
    for key in ["LimitMEMLOCK=", "LimitNOFILE=", "StateDirectory="] {
        assert!(
            unit.lines().any(|l| l.starts_with(key)),
            "deploy/uring_php.service lacks {key}"
        );
    }
    assert!(
        number_after(&unit, "\nTimeoutStopSec=") > drain,
        "TimeoutStopSec must exceed DRAIN_TIMEOUT_SECS ({drain})"
    );

    let compose = read("docker/docker-compose.yml");
    assert!(
        number_after(&compose, "stop_grace_period:") > drain,
        "compose stop_grace_period must exceed {drain}"
    );

    let configmap = read("deploy/kubernetes/configmap.yaml");
    let k8s_drain = number_after(&configmap, "DRAIN_TIMEOUT_SECS:");
    let deployment = read("deploy/kubernetes/deployment.yaml");
    let grace = number_after(&deployment, "terminationGracePeriodSeconds:");
    let pre_stop = number_after(&deployment, "command: [\"sleep\", \"");
    assert!(
        grace > pre_stop + k8s_drain,
        "terminationGracePeriodSeconds ({grace}) must exceed the preStop sleep ({pre_stop}) + DRAIN_TIMEOUT_SECS ({k8s_drain})"
    );
    for probe in ["path: /ready", "path: /health"] {
        assert!(
            deployment.contains(probe),
            "deployment.yaml lacks a probe on {probe}"
        );
    }
}

#[test]
fn seccomp_profile_is_docker_default_plus_io_uring() {
    let profile: serde_json::Value =
        serde_json::from_str(&read("docker/seccomp-io_uring.json")).expect("valid JSON");
    assert_eq!(
        profile["defaultAction"], "SCMP_ACT_ERRNO",
        "the profile must deny by default"
    );
    // Stated, not left to the runtime: buildah returned 0 from denied syscalls without it.
    assert_eq!(
        profile["defaultErrnoRet"], 1,
        "denied syscalls must fail with EPERM (defaultErrnoRet: 1)"
    );
    let syscalls = profile["syscalls"].as_array().expect("syscalls");
    for name in ["io_uring_setup", "io_uring_enter", "io_uring_register"] {
        let allowed = syscalls.iter().any(|rule| {
            rule["action"] == "SCMP_ACT_ALLOW"
                && rule["args"].as_array().is_none_or(|a| a.is_empty())
                && rule["includes"].as_object().is_none_or(|o| o.is_empty())
                && rule["names"]
                    .as_array()
                    .is_some_and(|n| n.iter().any(|x| x == name))
        });
        assert!(
            allowed,
            "{name} is not allowed unconditionally by docker/seccomp-io_uring.json"
        );
    }
    // Still Docker's default otherwise: a few syscalls it denies stay denied.
    let allowed_unconditionally = |name: &str| {
        syscalls.iter().any(|rule| {
            rule["action"] == "SCMP_ACT_ALLOW"
                && rule["includes"].as_object().is_none_or(|o| o.is_empty())
                && rule["names"]
                    .as_array()
                    .is_some_and(|n| n.iter().any(|x| x == name))
        })
    };
    for denied in ["mount", "kexec_load", "init_module", "bpf"] {
        assert!(
            !allowed_unconditionally(denied),
            "{denied} must not be allowed: the profile is Docker's default + io_uring"
        );
    }
    let compose = read("docker/docker-compose.yml");
    assert!(
        compose.contains("seccomp=./seccomp-io_uring.json"),
        "the compose file must use the profile"
    );
}

/// Starts the binary with NOTIFY_SOCKET at `addr` (a path or `@abstract`), waits for
/// READY=1, sends SIGTERM, waits for STOPPING=1 and exit 0.
fn notify_round_trip(socket: UnixDatagram, addr: &str) {
    let docroot = tempfile::tempdir().unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_uring_php"))
        .env_clear()
        .env("NOTIFY_SOCKET", addr)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("DOCUMENT_ROOT", docroot.path())
        .env("EXECUTOR", "stub")
        .env("CPU_AFFINITY", "0")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting uring_php");
    let mut buf = [0u8; 1024];
    let n = socket
        .recv(&mut buf)
        .expect("no READY=1 from uring_php within 30 s");
    let ready = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(
        ready.lines().any(|l| l == "READY=1"),
        "first notification: {ready:?}"
    );
    assert!(
        ready
            .lines()
            .any(|l| l == format!("MAINPID={}", child.id())),
        "MAINPID missing or wrong: {ready:?}"
    );
    assert!(
        ready
            .lines()
            .any(|l| l.starts_with("STATUS=listening on 127.0.0.1:")),
        "STATUS: {ready:?}"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let n = socket.recv(&mut buf).expect("no STOPPING=1 after SIGTERM");
    let stopping = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(
        stopping.lines().any(|l| l == "STOPPING=1"),
        "after SIGTERM: {stopping:?}"
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "uring_php exited with {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("uring_php did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn systemd_notify_ready_and_stopping_on_a_path_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let socket = UnixDatagram::bind(&path).unwrap();
    notify_round_trip(socket, path.to_str().unwrap());
}

#[test]
fn systemd_notify_ready_and_stopping_on_an_abstract_socket() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("uring_php-docs-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = UnixDatagram::bind_addr(&addr).unwrap();
    notify_round_trip(socket, &format!("@{name}"));
}

/// Relative link targets (`](target)`) in a markdown text.
fn relative_links(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = md;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find(')') else { break };
        let target = &rest[..end];
        if !(target.contains("://")
            || target.starts_with('#')
            || target.starts_with("mailto:")
            || target.contains(' '))
        {
            out.push(target.split('#').next().unwrap().to_string());
        }
    }
    out
}

#[test]
fn relative_links_in_the_docs_resolve() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    files.push(root().join("README.md"));
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let dir = file.parent().unwrap_or(Path::new("."));
        for target in relative_links(&text) {
            if target.is_empty() {
                continue;
            }
            // bench/RESULTS.md is written by the benchmark harness; a checkout may not
            // have run it yet.
            if target.ends_with("bench/RESULTS.md") {
                continue;
            }
            if !dir.join(&target).exists() {
                broken.push(format!(
                    "{} -> {target}",
                    file.strip_prefix(root()).unwrap().display()
                ));
            }
        }
    }
    assert!(broken.is_empty(), "broken relative links: {broken:#?}");
    let readme = read("README.md");
    assert!(
        readme.contains("(docs/README.md)"),
        "README.md must link the documentation index"
    );
}
