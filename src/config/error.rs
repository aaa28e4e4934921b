//! A configuration error as one line naming the variable (or clap's own help and
//! version output).

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// A configuration error: either clap's own output (help, version) or one line.
#[derive(Debug)]
pub enum ConfigError {
    Clap(clap::Error),
    Line(String),
}

impl ConfigError {
    pub(crate) fn line(s: String) -> Self {
        ConfigError::Line(s)
    }

    pub(crate) fn from_clap(e: clap::Error) -> Self {
        match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ConfigError::Clap(e),
            ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
                let arg = match e.get(ContextKind::InvalidArg) {
                    Some(ContextValue::String(s)) => s.clone(),
                    _ => String::from("a setting"),
                };
                let value = match e.get(ContextKind::InvalidValue) {
                    Some(ContextValue::String(s)) => s.clone(),
                    _ => String::new(),
                };
                let why = match e.get(ContextKind::ValidValue) {
                    Some(ContextValue::Strings(v)) => format!("expected one of {}", v.join(", ")),
                    _ => std::error::Error::source(&e)
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "invalid value".into()),
                };
                ConfigError::Line(format!("{}={value:?}: {why}", env_name(&arg)))
            }
            _ => {
                let text = e.to_string();
                let first = text
                    .lines()
                    .next()
                    .unwrap_or("invalid arguments")
                    .trim_start_matches("error: ");
                ConfigError::Line(first.to_string())
            }
        }
    }

    /// Prints the message and exits: 0 for help/version, 2 otherwise.
    pub fn exit(self) -> ! {
        match self {
            ConfigError::Clap(e) => e.exit(),
            ConfigError::Line(s) => {
                eprintln!("uring_php: {s}");
                std::process::exit(2)
            }
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Clap(e) => write!(f, "{e}"),
            ConfigError::Line(s) => f.write_str(s),
        }
    }
}

/// `--php-workers <PHP_WORKERS>` → `PHP_WORKERS (--php-workers)`.
pub(super) fn env_name(arg: &str) -> String {
    let flag = arg.split_whitespace().next().unwrap_or(arg);
    let env = flag
        .trim_start_matches('-')
        .replace('-', "_")
        .to_ascii_uppercase();
    format!("{env} ({flag})")
}
