//! Settings from all three places, in rising precedence: the environment, the
//! configuration file (`[server]` and the sites), the command line.
//!
//! The file's `[server]` keys become flags placed before the command line's, so clap
//! applies them over the environment and under the real flags (`args_override_self`);
//! an error in one of them is reported at its line in the file.

use std::ffi::OsString;
use std::path::Path;

use clap::{CommandFactory, Parser};

use super::file::{self, Source};
use super::SitesSpec;
use crate::config::{Config, ConfigError};

/// The settings and the sites.
pub struct Loaded {
    pub cfg: Config,
    pub sites: SitesSpec,
}

/// Parses `args` (the process's, program name first) with the environment and, when
/// `--config`/`CONFIG_FILE` names one, the configuration file.
pub fn load(args: Vec<OsString>) -> Result<Loaded, ConfigError> {
    // First only to find the file: nothing is validated before the file had its say.
    let first = Config::try_parse_from(&args).map_err(ConfigError::from_clap)?;
    let Some(path) = first.config.clone() else {
        let mut cfg = Config::parse_from_iter(args.clone())?;
        cfg.effective_args = args;
        let sites = SitesSpec::from_env(&cfg);
        return Ok(Loaded { cfg, sites });
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        ConfigError::line(format!("CONFIG_FILE={}: cannot read: {e}", path.display()))
    })?;
    let src = Source {
        path: &path,
        text: &text,
    };
    let doc = src.parse().map_err(ConfigError::line)?;
    let cmd = Config::command();
    let known = |name: &str| {
        cmd.get_arguments()
            .any(|a| a.get_long() == Some(&name.replace('_', "-")))
    };
    let flags = file::server_flags(&src, &doc, &known).map_err(ConfigError::line)?;
    let mut effective: Vec<OsString> = args.iter().take(1).cloned().collect();
    effective.extend(flags.iter().map(|(f, _)| OsString::from(f)));
    effective.extend(args.iter().skip(1).cloned());
    let mut cfg =
        Config::parse_from_iter(effective.clone()).map_err(|e| attribute(e, &src, &flags, &cmd))?;
    cfg.effective_args = effective;
    let sites = file::sites(&src, &doc, &cfg).map_err(ConfigError::line)?;
    if cfg.redirect_http_to_https && sites.tls_spec(&cfg).is_none() {
        return Err(ConfigError::line(format!(
            "{}: REDIRECT_HTTP_TO_HTTPS is on, but neither TLS_CERT nor any site has a certificate",
            path.display()
        )));
    }
    Ok(Loaded { cfg, sites })
}

/// An error about a setting the file's `[server]` gave: `FILE:LINE: ` in front.
fn attribute(
    e: ConfigError,
    src: &Source,
    flags: &[(String, usize)],
    cmd: &clap::Command,
) -> ConfigError {
    let ConfigError::Line(line) = e else {
        return e;
    };
    for (flag, offset) in flags {
        let long = flag
            .trim_start_matches("--")
            .split('=')
            .next()
            .unwrap_or_default();
        let env = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(long))
            .and_then(|a| a.get_env())
            .map(|e| e.to_string_lossy().into_owned());
        let named = line.contains(&format!("(--{long})"))
            || env.is_some_and(|env| {
                line.starts_with(&format!("{env}=")) || line.starts_with(&format!("{env}:"))
            });
        if named {
            return ConfigError::line(src.at(
                *offset,
                format!("server.{}: {line}", long.replace('-', "_")),
            ));
        }
    }
    ConfigError::line(line)
}

/// One line saying what a checked configuration holds (`--check-config`).
pub fn summary(loaded: &Loaded, file: Option<&Path>) -> String {
    let names: Vec<String> = loaded
        .sites
        .sites
        .iter()
        .map(|s| {
            if s.hosts.is_empty() {
                format!("{} (every host)", s.name)
            } else {
                format!("{} ({})", s.name, s.hosts.join(", "))
            }
        })
        .collect();
    format!(
        "configuration OK{}: {} site{}: {}",
        file.map(|f| format!(" ({})", f.display()))
            .unwrap_or_default(),
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join("; ")
    )
}
