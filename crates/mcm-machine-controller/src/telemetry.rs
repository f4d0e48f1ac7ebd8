//! Logging: `tracing` events written to stderr, filtered by MCM's klog `--v` level.
//!
//! Operators of the Go providers tune logs with `--v` and expect the same flag to
//! work here; Rust developers expect `RUST_LOG`. Both are honoured: `RUST_LOG`, when set
//! (and non-empty), replaces the `--v` mapping entirely.
//!
//! The `--v` mapping follows what klog levels mean in MCM's code: `V(2)`/`V(3)` are
//! the controller's own step-by-step messages, `V(4)`+ its detail, and client-go logs
//! its HTTP requests from `V(6)` on. So:
//!
//! | `--v` | this process's code (controller, driver) | HTTP/Kubernetes client stack |
//! |---|---|---|
//! | 0–1 | info | info |
//! | 2–3 | debug | info |
//! | 4–5 | trace | info |
//! | 6–7 | trace | debug |
//! | 8+  | trace | trace |
//!
//! "This process's code" is everything except the client stack (`kube*`, `hyper*`,
//! `h2`, `tower*`, `rustls`, `tokio_util`, `axum`, `reqwest`), so a provider's own crate
//! follows `--v` without registering its name anywhere.

use std::sync::OnceLock;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Crates of the HTTP and Kubernetes client stack, which stay quieter than ours.
const CLIENT_STACK: &[&str] = &[
    "kube",
    "kube_client",
    "kube_runtime",
    "kube_core",
    "hyper",
    "hyper_util",
    "h2",
    "tower",
    "tower_http",
    "rustls",
    "tokio_util",
    "axum",
    "reqwest",
];

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable text, one line per event (the default; MCM has no format flag).
    #[default]
    Text,
    /// One JSON object per line, for log pipelines that parse fields. No flag selects
    /// this; a provider may choose it in its `main`.
    Json,
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// `RUST_LOG` is set but is not a valid filter.
    #[error(
        "RUST_LOG={value:?} is not a valid log filter ({reason}); use e.g. RUST_LOG=info or \
         RUST_LOG=mcm_machine_controller=debug, or unset it to use --v"
    )]
    InvalidRustLog {
        /// The variable's value.
        value: String,
        /// The parser's complaint.
        reason: String,
    },
}

/// The filter directives `--v` stands for (see the module documentation).
pub fn verbosity_directives(v: u8) -> String {
    let (ours, client) = match v {
        0..=1 => ("info", "info"),
        2..=3 => ("debug", "info"),
        4..=5 => ("trace", "info"),
        6..=7 => ("trace", "debug"),
        _ => ("trace", "trace"),
    };
    let mut directives = ours.to_owned();
    if client != ours {
        for target in CLIENT_STACK {
            directives.push_str(&format!(",{target}={client}"));
        }
    }
    directives
}

/// The filter in effect: `RUST_LOG` when set and non-empty, else the `--v` mapping.
pub fn log_filter(v: u8) -> Result<EnvFilter, TelemetryError> {
    filter_for(std::env::var("RUST_LOG").ok().as_deref(), v)
}

/// [`log_filter`] with the value of `RUST_LOG` given.
fn filter_for(rust_log: Option<&str>, v: u8) -> Result<EnvFilter, TelemetryError> {
    match rust_log {
        Some(value) if !value.trim().is_empty() => {
            EnvFilter::try_new(value).map_err(|err| TelemetryError::InvalidRustLog {
                value: value.to_owned(),
                reason: err.to_string(),
            })
        }
        _ => Ok(EnvFilter::new(verbosity_directives(v))),
    }
}

/// Installs the process-wide log subscriber (stderr, as klog). Returns `Ok(true)` if
/// this call installed it and `Ok(false)` if one was already installed — by an earlier
/// call or by the embedding program — which is left in place, so calling this twice
/// (e.g. from several tests) is harmless.
pub fn init_logging(v: u8, format: LogFormat) -> Result<bool, TelemetryError> {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    if INSTALLED.get().is_some() {
        return Ok(false);
    }
    let filter = log_filter(v)?;
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_target(true),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    let installed = result.is_ok();
    let _ = INSTALLED.set(installed);
    Ok(installed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tracing::Level;
    use tracing_subscriber::Layer;

    /// Counts the events that reach it (i.e. that the filter let through).
    #[derive(Clone, Default)]
    struct Count(Arc<AtomicUsize>);

    impl<S: tracing::Subscriber> Layer<S> for Count {
        fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The levels (error..trace) the real filter lets through for `target`, emitted
    /// from inside a scoped subscriber.
    macro_rules! shown {
        ($filter:expr, $target:literal) => {{
            let count = Count::default();
            let subscriber = tracing_subscriber::registry()
                .with($filter)
                .with(count.clone());
            let mut shown = Vec::new();
            tracing::subscriber::with_default(subscriber, || {
                for level in [Level::ERROR, Level::WARN, Level::INFO, Level::DEBUG, Level::TRACE] {
                    let before = count.0.load(Ordering::SeqCst);
                    match level {
                        Level::ERROR => tracing::error!(target: $target, "e"),
                        Level::WARN => tracing::warn!(target: $target, "w"),
                        Level::INFO => tracing::info!(target: $target, "i"),
                        Level::DEBUG => tracing::debug!(target: $target, "d"),
                        _ => tracing::trace!(target: $target, "t"),
                    }
                    if count.0.load(Ordering::SeqCst) > before {
                        shown.push(level);
                    }
                }
            });
            shown.last().copied()
        }};
    }

    fn v(level: u8) -> EnvFilter {
        filter_for(None, level).unwrap()
    }

    #[test]
    fn klog_levels_map_to_tracing_levels() {
        use Level as L;
        // (--v, target, most verbose level shown)
        let table = [
            (0, shown!(v(0), "mcm_machine_controller::runtime"), L::INFO),
            (1, shown!(v(1), "mcm_machine_controller"), L::INFO),
            (1, shown!(v(1), "kube_client::client"), L::INFO),
            (2, shown!(v(2), "mcm_machine_controller::flow"), L::DEBUG),
            (3, shown!(v(3), "my_provider::driver"), L::DEBUG),
            (3, shown!(v(3), "kube_client::client"), L::INFO),
            (4, shown!(v(4), "mcm_machine_controller"), L::TRACE),
            (5, shown!(v(5), "hyper_util::client"), L::INFO),
            (6, shown!(v(6), "kube_client::client"), L::DEBUG),
            (6, shown!(v(6), "my_provider"), L::TRACE),
            (8, shown!(v(8), "h2::codec"), L::TRACE),
            (10, shown!(v(10), "kube_runtime::controller"), L::TRACE),
        ];
        for (level, shown, expected) in table {
            assert_eq!(shown, Some(expected), "--v={level}");
        }
    }

    #[test]
    fn rust_log_wins_over_v() {
        let filter = filter_for(Some("warn,my_provider=trace"), 4).unwrap();
        assert_eq!(shown!(filter, "mcm_machine_controller"), Some(Level::WARN));
        let filter = filter_for(Some("warn,my_provider=trace"), 0).unwrap();
        assert_eq!(shown!(filter, "my_provider::x"), Some(Level::TRACE));
        // An empty RUST_LOG counts as unset.
        let filter = filter_for(Some(" "), 2).unwrap();
        assert_eq!(shown!(filter, "mcm_machine_controller"), Some(Level::DEBUG));
    }

    #[test]
    fn invalid_rust_log_is_explained() {
        let err = filter_for(Some("mcm=loud"), 0).unwrap_err().to_string();
        assert!(err.contains("RUST_LOG=\"mcm=loud\""), "{err}");
        assert!(err.contains("unset it to use --v"), "{err}");
    }

    #[test]
    fn init_is_idempotent() {
        let _ = init_logging(2, LogFormat::Text).unwrap();
        let again = init_logging(4, LogFormat::Json).unwrap();
        assert!(!again, "a second call must not replace the subscriber");
        tracing::info!("logging initialised");
    }
}
