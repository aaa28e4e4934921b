//! `uring_php php-cli`: PHP's command line with the server's build, extensions and
//! php.ini layers (defaults, PHP_INI file, PHP_INI_<NAME>): a script sees the same
//! extensions and ini values as through a web request, but for what the CLI itself fixes.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::http_client::get;
use common::server::TestServer;
use serde_json::Value;

fn script_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/php")
}

/// The settings php-cli always fixes (sapi/cli/php_cli.c's HARDCODED_INI) and the ini
/// entries only the CLI SAPI registers.
const CLI_FIXED: [&str; 6] = [
    "html_errors",
    "register_argc_argv",
    "implicit_flush",
    "output_buffering",
    "max_execution_time",
    "max_input_time",
];
const CLI_ONLY: [&str; 3] = ["cli.pager", "cli.prompt", "cli_server.color"];

struct Env {
    _dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

/// PHP settings given both ways the server takes them: a php.ini file (with a [PATH=]
/// section at its end, which must not swallow what follows) and a PHP_INI_ variable.
fn php_env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("php.ini");
    std::fs::write(
        &ini,
        "precision = 12\nmemory_limit = 64M\n[PATH=/nowhere]\nprecision = 3\n",
    )
    .unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let vars = vec![
        ("PHP_INI".to_string(), ini.display().to_string()),
        ("PHP_INI_MEMORY_LIMIT".to_string(), "200M".to_string()),
        (
            "PHP_INI_DATE__TIMEZONE".to_string(),
            "Europe/Berlin".to_string(),
        ),
        ("TMPDIR".to_string(), tmp.display().to_string()),
    ];
    Env { _dir: dir, vars }
}

fn cli(env: &Env, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_uring_php"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .arg("php-cli")
        .args(args);
    for (k, v) in &env.vars {
        cmd.env(k, v);
    }
    cmd.output().expect("running uring_php php-cli")
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn ini(v: &Value) -> BTreeMap<String, Value> {
    v["ini"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn the_cli_sees_what_a_web_request_sees() {
    let env = php_env();
    let mut builder = TestServer::builder(&script_dir()).env("PHP_WORKERS", "1");
    for (k, v) in &env.vars {
        builder = builder.env(k, v);
    }
    let s = builder.start();
    let r = get(&s.addr(), "/parity/ini.php", &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let web = json(&r.body);

    let script = script_dir().join("parity/ini.php");
    let out = cli(&env, &[script.to_str().unwrap(), "one", "two words"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli = json(&out.stdout);

    assert_eq!(cli["sapi"], "cli");
    assert_eq!(cli["version"], web["version"]);
    assert_eq!(cli["argv"], serde_json::json!(["one", "two words"]));
    // The same build: every extension but the server's own (the uring_* functions need a
    // request), OPcache loaded in both.
    let mut web_ext = strings(&web["extensions"]);
    assert!(web_ext.remove("uring_php"), "{web_ext:?}");
    assert_eq!(strings(&cli["extensions"]), web_ext);
    assert_eq!(cli["zend_extensions"], web["zend_extensions"]);
    assert!(strings(&cli["zend_extensions"]).contains("Zend OPcache"));

    let (web_ini, cli_ini) = (ini(&web), ini(&cli));
    // The layers arrived: defaults, the file, the variables (over the file).
    for (name, want) in [
        ("precision", "12"),
        ("memory_limit", "200M"),
        ("date.timezone", "Europe/Berlin"),
        ("expose_php", ""),
        ("session.trans_sid_tags", "a=href,area=href,frame=src,form="),
    ] {
        assert_eq!(web_ini[name], want, "web {name}");
        assert_eq!(cli_ini[name], want, "cli {name}");
    }
    let mut differ = Vec::new();
    for name in web_ini
        .keys()
        .chain(cli_ini.keys())
        .collect::<BTreeSet<_>>()
    {
        if CLI_FIXED.contains(&name.as_str()) || CLI_ONLY.contains(&name.as_str()) {
            continue;
        }
        if web_ini.get(name) != cli_ini.get(name) {
            differ.push(format!(
                "{name}: web {:?}, cli {:?}",
                web_ini.get(name),
                cli_ini.get(name)
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "ini values differ:\n{}",
        differ.join("\n")
    );
    // And what php-cli fixes, it fixes.
    assert_eq!(cli_ini["max_execution_time"], "0");
    assert_eq!(cli_ini["register_argc_argv"], "1");
}

#[test]
fn arguments_exit_status_and_php_flags_pass_through() {
    let env = php_env();
    let out = cli(
        &env,
        &[
            "-d",
            "memory_limit=300M",
            "-r",
            "echo PHP_SAPI, ' ', ini_get('memory_limit'), ' ', $argv[1]; exit(7);",
            "--",
            "arg",
        ],
    );
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "cli 300M arg");
    // A php.ini that cannot be read is one clear line, not PHP's silence.
    let mut env = php_env();
    env.vars[0].1 = "/nonexistent/php.ini".into();
    let out = cli(&env, &["-v"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("uring_php php-cli: PHP_INI=/nonexistent/php.ini:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_php_ini_is_kept_where_only_its_user_can_write() {
    let env = php_env();
    let tmp = Path::new(&env.vars[3].1);
    assert!(cli(&env, &["-v"]).status.success());
    let dir = std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("uring_php-")
        })
        .expect("a private directory");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    // Another user's (or a world-writable) directory is refused, never used.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = cli(&env, &["-v"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a private directory"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
