//! How the servers and the load generator share the machine in a run.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// Servers on every CPU, wrk unpinned beside them.
    Shared,
    /// Servers on the first half of the CPUs, wrk pinned to the rest.
    Separate,
    /// The CPU_AFFINITY scaling run.
    Scaling,
}

impl Mode {
    pub fn key(self) -> &'static str {
        match self {
            Mode::Shared => "shared",
            Mode::Separate => "separate",
            Mode::Scaling => "scaling",
        }
    }

    pub fn from_key(s: &str) -> Option<Mode> {
        [Mode::Shared, Mode::Separate]
            .into_iter()
            .find(|m| m.key() == s)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}
