//! The error type of the control-plane harness.
//!
//! Tests print these when something in the plane goes wrong, so every message says
//! which component or object failed, where its log is, and what to try next.

use std::path::PathBuf;
use std::time::Duration;

use crate::tools::ToolsError;

/// Everything that can go wrong while starting, using or stopping the local plane.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Building or locating kube-apiserver, etcd, MCM or its CRDs failed.
    #[error(transparent)]
    Tools(#[from] ToolsError),

    /// A file-system or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What the harness was doing, naming the path or program.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A component stopped before it became ready.
    #[error(
        "{component} exited ({status}) before it became ready; its log is {log}, last lines:\n{tail}"
    )]
    ExitedEarly {
        /// The component's name (e.g. `etcd`).
        component: String,
        /// How it ended.
        status: String,
        /// Where its stdout and stderr went.
        log: PathBuf,
        /// The end of that log.
        tail: String,
    },

    /// A condition did not hold within its deadline.
    #[error("timed out after {timeout:?} waiting for {what}; last check said: {last}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The deadline that passed.
        timeout: Duration,
        /// What the last check reported.
        last: String,
    },

    /// A Kubernetes API call failed.
    #[error("Kubernetes API call failed while {what}: {source}")]
    Kube {
        /// What the harness was doing, naming the object.
        what: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },

    /// The kubeconfig could not be read or turned into a client.
    #[error("kubeconfig {path}: {message}")]
    Kubeconfig {
        /// The kubeconfig file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// Generating the throwaway certificates failed.
    #[error("generating the plane's throwaway certificates failed: {0}")]
    Certificates(#[from] rcgen::Error),

    /// A CRD file from MCM's module could not be read or understood.
    #[error("CRD file {path}: {message}")]
    Crd {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// A caller passed a value the harness cannot use.
    #[error("invalid {field}: {message}")]
    InvalidArgument {
        /// The parameter or field at fault.
        field: &'static str,
        /// What is wrong and what would be accepted.
        message: String,
    },

    /// The per-test-binary plane failed to start on an earlier attempt; it is not retried.
    #[error("the shared control plane of this test binary failed to start: {0}")]
    SharedPlane(String),

    /// The state of a background plane (`cargo xtask cluster`) is missing or inconsistent.
    #[error("background plane in {dir}: {message}")]
    Background {
        /// The plane's directory.
        dir: PathBuf,
        /// What is wrong and how to recover.
        message: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn kube(what: impl Into<String>, source: kube::Error) -> Self {
        Error::Kube {
            what: what.into(),
            source: Box::new(source),
        }
    }
}
