//! The PHP executor: engine, SAPI callbacks, worker pool and the way back to the cores.
//! All unsafe code of the server lives here (and in bridge/).

mod callbacks;
pub mod cli;
pub mod completion;
pub mod context;
pub mod engine;
mod ffi;
mod guard;
pub mod hangup;
pub mod heap;
pub mod ini;
pub mod inline;
mod interrupt;
mod lane_pick;
pub mod lane_submit;
pub mod opcache_restart;
mod output;
pub mod pool;
mod queue;
pub mod reply;
pub mod request;
pub mod response;
mod response_head;
pub mod server_vars;
pub mod spill_budget;
pub mod watchdog;
mod worker;
pub mod worker_mode;
mod worker_script;

pub use context::ExecLimits;
pub use engine::Engine;
pub use ini::IniConfig;
pub use pool::{PoolConfig, WorkerPool};
pub use reply::{Reply, ReplyEvent, ReplySink, RequestControl};
pub use request::{Job, ScriptRequest, SiteExtras, SiteIniValue, TraceIds};
pub use response::{ResponseHead, ScriptBody, ScriptResponse, WorkerTiming};
pub use spill_budget::{SpillBudget, SpillLease};
pub use worker_mode::{RestartCause, WorkerMode, WorkerScriptConfig};
