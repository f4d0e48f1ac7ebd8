//! Why a drain failed, in the words the deletion flow writes into the Machine's
//! `lastOperation.description` (`Drain failed due to - <err>…`).
//!
//! Texts follow MCM's `drain.go` where a user may already know them (the PDB and
//! eviction messages); where Go's text would say only "context deadline exceeded" the
//! message names the pod, the node and the timeout instead.

use std::fmt;

/// A drain that did not finish.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DrainError {
    /// Listing the node's pods failed, so nothing was evicted.
    #[error("listing the pods of node {node:?} failed: {message}")]
    ListPods {
        /// The drained node.
        node: String,
        /// The API error.
        message: String,
    },
    /// Asking the API server whether it serves `pods/eviction` failed.
    #[error("discovering whether the API server supports pod eviction failed: {message}")]
    Discovery {
        /// The API error.
        message: String,
    },
    /// One or more pods could not be evicted or did not go away in time.
    #[error("{0}")]
    Pods(PodErrors),
}

/// The failures of individual pods, shown like Go's `utilerrors.NewAggregate`: one
/// message alone, several as `[a, b]` with repeated texts shown once.
#[derive(Debug, Clone, PartialEq)]
pub struct PodErrors(pub Vec<PodError>);

impl fmt::Display for PodErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut texts: Vec<String> = Vec::new();
        for error in &self.0 {
            let text = error.to_string();
            if !texts.contains(&text) {
                texts.push(text);
            }
        }
        match texts.as_slice() {
            [one] => f.write_str(one),
            many => write!(f, "[{}]", many.join(", ")),
        }
    }
}

/// Why one pod failed. `pod` is the pod's name where MCM prints only the name, and
/// `namespace/name` elsewhere.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PodError {
    /// The eviction or deletion call was refused for a reason other than a PDB.
    #[error("error when evicting pod {pod:?}: {message} scheduled on node {node}")]
    Evict {
        /// Pod name.
        pod: String,
        /// Node name.
        node: String,
        /// The API error.
        message: String,
    },
    /// A PDB that allows no disruption although all its pods are healthy.
    #[error(
        "error while evicting pod {pod:?}: pod disruption budget {pdb} is misconfigured and requires zero voluntary evictions"
    )]
    MisconfiguredPdb {
        /// Pod name.
        pod: String,
        /// `namespace/name` of the PDB.
        pdb: String,
    },
    /// The evicted pod was still there when its wait limit ran out.
    #[error(
        "timeout expired while waiting for pod {pod:?} terminating scheduled on node {node} (waited {waited})"
    )]
    TerminationTimeout {
        /// Pod name.
        pod: String,
        /// Node name.
        node: String,
        /// The limit, Go-formatted.
        waited: String,
    },
    /// Reading the pod while waiting for it to go failed.
    #[error("error when waiting for pod {pod:?}/{node} terminating: {message}")]
    TerminationCheck {
        /// Pod name.
        pod: String,
        /// Node name.
        node: String,
        /// The API error.
        message: String,
    },
    /// The pod's volumes were still attached to the node when the limit ran out.
    #[error(
        "timeout while waiting for PVs to detach from node {node:?}: volumes {volumes} of pod {pod} still attached after {waited}"
    )]
    DetachTimeout {
        /// `namespace/name`.
        pod: String,
        /// Node name.
        node: String,
        /// The volume IDs still attached, comma-separated.
        volumes: String,
        /// The limit, Go-formatted.
        waited: String,
    },
    /// Reading the node while waiting for the pod's volumes to detach failed.
    #[error("error when waiting for PVs of pod {pod} to detach from node {node:?}: {message}")]
    DetachCheck {
        /// `namespace/name`.
        pod: String,
        /// Node name.
        node: String,
        /// The API error.
        message: String,
    },
    /// A PVC pod still existed after every eviction round and the final deletion.
    #[error("error evicting pod {pod} from node {node:?}")]
    NotEvicted {
        /// `namespace/name`.
        pod: String,
        /// Node name.
        node: String,
    },
    /// A PVC pod still existed after deletion (eviction not available).
    #[error("error deleting pod {pod} from node {node:?}")]
    NotDeleted {
        /// `namespace/name`.
        pod: String,
        /// Node name.
        node: String,
    },
    /// The drain's overall timeout passed before the pod was handled.
    #[error("drain timeout of {timeout} expired before pod {pod} was drained from node {node:?}")]
    DeadlineExceeded {
        /// `namespace/name`.
        pod: String,
        /// Node name.
        node: String,
        /// The drain timeout, Go-formatted.
        timeout: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdb_error(pod: &str) -> PodError {
        PodError::MisconfiguredPdb {
            pod: pod.to_owned(),
            pdb: "shop/web".to_owned(),
        }
    }

    #[test]
    fn misconfigured_pdb_text_is_mcms() {
        assert_eq!(
            pdb_error("web-0").to_string(),
            "error while evicting pod \"web-0\": pod disruption budget shop/web is misconfigured and requires zero voluntary evictions"
        );
    }

    #[test]
    fn pod_errors_aggregate_like_go() {
        let one = PodErrors(vec![pdb_error("a")]);
        assert_eq!(
            one.to_string(),
            pdb_error("a").to_string(),
            "one error: its text"
        );
        let repeated = PodErrors(vec![pdb_error("a"), pdb_error("a")]);
        assert_eq!(
            repeated.to_string(),
            pdb_error("a").to_string(),
            "duplicates once"
        );
        let two = PodErrors(vec![
            pdb_error("a"),
            PodError::NotEvicted {
                pod: "shop/db-0".to_owned(),
                node: "n1".to_owned(),
            },
        ]);
        assert_eq!(
            DrainError::Pods(two).to_string(),
            format!(
                "[{}, error evicting pod shop/db-0 from node \"n1\"]",
                pdb_error("a")
            )
        );
    }
}
