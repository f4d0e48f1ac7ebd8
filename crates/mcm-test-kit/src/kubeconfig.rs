//! The kubeconfig of a plane, and clients made from it.
//!
//! One file serves tests, MCM (as control and target kubeconfig) and humans
//! (`export KUBECONFIG=…`). Certificates are embedded, so the file still works when
//! copied elsewhere.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::certs::Pki;
use crate::error::{Error, Result};

/// Name of the cluster, user and context in the kubeconfig.
pub const CONTEXT: &str = "mcm-test-kit";

/// Renders a kubeconfig for `server` (e.g. `https://127.0.0.1:6443`) with the admin
/// client certificate of `pki`.
pub fn render(server: &str, pki: &Pki) -> String {
    let ca = STANDARD.encode(&pki.ca_cert);
    let cert = STANDARD.encode(&pki.admin_cert);
    let key = STANDARD.encode(&pki.admin_key);
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: {CONTEXT}\n  \
           cluster:\n    \
             server: {server}\n    \
             certificate-authority-data: {ca}\n\
         users:\n\
         - name: {CONTEXT}\n  \
           user:\n    \
             client-certificate-data: {cert}\n    \
             client-key-data: {key}\n\
         contexts:\n\
         - name: {CONTEXT}\n  \
           context:\n    \
             cluster: {CONTEXT}\n    \
             user: {CONTEXT}\n\
         current-context: {CONTEXT}\n"
    )
}

/// Reads the kubeconfig at `path` into a client configuration.
pub async fn load_config(path: &Path) -> Result<kube::Config> {
    let invalid = |e: kube::config::KubeconfigError| Error::Kubeconfig {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(invalid)?;
    kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(invalid)
}

/// A new client for `config`. Clients hold tasks on the runtime that created them, so
/// each caller (each `#[tokio::test]` runtime) needs its own.
pub fn client_for(config: &kube::Config, path: &Path) -> Result<kube::Client> {
    kube::Client::try_from(config.clone()).map_err(|e| Error::Kubeconfig {
        path: path.to_path_buf(),
        message: format!("cannot build a client: {e}"),
    })
}
