//! The one translation of the settings into what each component takes: the HTTP/1 and
//! HTTP/2 limits, the php.ini layers, the PHP worker pools. The server and the hyper
//! variant (bench/) both start from these, so the two cannot read a setting differently.

use bytes::Bytes;
use uring_http::h1::H1Config;
use uring_http::h2::H2Config;
use uring_http::SpoolConfig;

use super::Config;
use crate::php::server_vars::SERVER_SOFTWARE;
use crate::php::{IniConfig, PoolConfig};

impl Config {
    /// The php.ini layers: `PHP_INI`'s file, then the `PHP_INI_*` variables, then the
    /// `--php-define` flags (last wins).
    pub fn ini(&self) -> IniConfig {
        let mut overrides = IniConfig::overrides_from_env(std::env::vars());
        overrides.extend(self.php_define.iter().cloned());
        IniConfig {
            file: self.php_ini.clone(),
            overrides,
        }
    }

    /// The classic (one request, one PHP request) pool, one queue lane per core unless
    /// QUEUE_LANES says otherwise.
    pub fn pool(&self, cpus: &[usize]) -> PoolConfig {
        PoolConfig {
            lanes: self.queue_lanes.unwrap_or(cpus.len()),
            workers: self.workers(),
            queue_capacity: self.queue_capacity(),
            cpus: cpus.to_vec(),
            max_requests: self.php_worker_max_requests,
            limits: self.exec_limits(),
        }
    }

    /// The worker-mode pool (WORKER_SCRIPT): WORKER_COUNT threads, 100 queued requests
    /// each unless QUEUE_CAPACITY says otherwise; the script itself decides when a
    /// thread restarts (WORKER_MAX_REQUESTS), so the pool never does.
    pub fn worker_mode_pool(&self, cpus: &[usize]) -> PoolConfig {
        let workers = self.worker_count();
        PoolConfig {
            lanes: self.queue_lanes.unwrap_or(cpus.len()),
            workers,
            queue_capacity: self.queue_capacity.unwrap_or(workers * 100),
            cpus: cpus.to_vec(),
            max_requests: 0,
            limits: self.exec_limits(),
        }
    }

    /// HTTP/1.1's limits and timeouts.
    pub fn h1(&self) -> H1Config {
        H1Config {
            max_body_size: self.max_body_size,
            spool: SpoolConfig {
                threshold: self.body_spool_threshold as usize,
                dir: std::env::temp_dir(),
                buffering: self.request_buffering,
            },
            header_timeout: self.header_timeout_secs,
            idle_timeout: self.idle_timeout_secs,
            server_header: Some(Bytes::from_static(SERVER_SOFTWARE.as_bytes())),
            ..H1Config::default()
        }
    }

    /// HTTP/2's settings; the limits HTTP/2 shares with HTTP/1.1 (body size, spooling,
    /// timeouts) come from `h1`.
    pub fn h2(&self, h1: &H1Config) -> H2Config {
        H2Config {
            max_concurrent_streams: self.h2_max_concurrent_streams,
            initial_stream_window_size: self.h2_initial_window_size,
            initial_connection_window_size: self
                .h2_initial_window_size
                .saturating_mul(2)
                .max(2 << 20),
            max_frame_size: self.h2_max_frame_size,
            max_header_list_size: self.h2_max_header_list_size,
            max_premature_resets: 2 * self.h2_max_concurrent_streams as usize,
            ..H2Config::with_limits_of(h1)
        }
    }
}
