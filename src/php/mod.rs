//! The PHP executor: engine, SAPI callbacks, worker pool and the way back to the cores.
//! All unsafe code of the server lives here (and in bridge/).

mod callbacks;
pub mod completion;
pub mod context;
pub mod engine;
mod ffi;
pub mod ini;
pub mod inline;
pub mod lane_submit;
pub mod opcache_restart;
mod output;
pub mod pool;
pub mod reply;
pub mod request;
pub mod response;
mod response_head;
pub mod server_vars;
pub mod watchdog;
mod worker;

pub use context::ExecLimits;
pub use engine::Engine;
pub use ini::IniConfig;
pub use pool::{PoolConfig, WorkerPool};
pub use reply::{Reply, ReplyEvent, ReplySink, RequestControl};
pub use request::{Job, ScriptRequest, TraceIds};
pub use response::{ResponseHead, ScriptBody, ScriptResponse, WorkerTiming};
