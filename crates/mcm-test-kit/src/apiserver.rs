//! Starting kube-apiserver for one plane.
//!
//! Flags follow controller-runtime's envtest where they matter: loopback only, no
//! endpoint reconciler (there is no kubernetes Service to maintain), RBAC with the admin
//! in `system:masters`, and no ServiceAccount admission (no token controller runs).
//! Ready means `/readyz` answers `ok` and the `default` namespace exists.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;

use crate::certs::{Pki, PkiFiles};
use crate::error::{Error, Result};
use crate::ports::free_port;
use crate::process::{ManagedProcess, ProcessSpec};
use crate::wait::{Attempt, poll_until};

/// How long kube-apiserver gets to become ready (it competes with compilers on CI).
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// Start-ups retried when the port was taken between choosing and binding it.
const ATTEMPTS: usize = 3;

/// A running kube-apiserver and how to reach it.
#[derive(Debug)]
pub(crate) struct ApiServer {
    pub process: ManagedProcess,
    pub server_url: String,
    pub kubeconfig: PathBuf,
    pub config: kube::Config,
}

/// What kube-apiserver needs from the rest of the plane.
#[derive(Debug)]
pub(crate) struct ApiServerInput<'a> {
    pub binary: &'a Path,
    pub dir: &'a Path,
    pub log_dir: &'a Path,
    pub etcd_url: &'a str,
    pub pki: &'a Pki,
    pub files: &'a PkiFiles,
    pub detached: bool,
}

/// Starts kube-apiserver and writes `<dir>/kubeconfig` for it.
pub(crate) async fn start(input: ApiServerInput<'_>) -> Result<ApiServer> {
    let kubeconfig = input.dir.join("kubeconfig");
    let mut attempt = 0;
    loop {
        attempt += 1;
        let port = free_port().map_err(|e| Error::io("choosing a port for kube-apiserver", e))?;
        let server_url = format!("https://127.0.0.1:{port}");
        crate::certs::write_file(
            &kubeconfig,
            &crate::kubeconfig::render(&server_url, input.pki),
            true,
        )?;
        let config = crate::kubeconfig::load_config(&kubeconfig).await?;

        let files = input.files;
        let mut spec = ProcessSpec::new("kube-apiserver", input.binary, input.log_dir)
            .arg(format!("--etcd-servers={}", input.etcd_url))
            .arg("--bind-address=127.0.0.1")
            .arg("--advertise-address=127.0.0.1")
            .arg(format!("--secure-port={port}"))
            .arg(format!(
                "--cert-dir={}",
                input.dir.join("apiserver-certs").display()
            ))
            .arg(format!("--tls-cert-file={}", files.server_cert.display()))
            .arg(format!(
                "--tls-private-key-file={}",
                files.server_key.display()
            ))
            .arg(format!("--client-ca-file={}", files.ca_cert.display()))
            .arg(format!("--service-account-issuer={server_url}"))
            .arg(format!(
                "--service-account-key-file={}",
                files.service_account_public_key.display()
            ))
            .arg(format!(
                "--service-account-signing-key-file={}",
                files.service_account_key.display()
            ))
            .arg("--endpoint-reconciler-type=none")
            .arg("--authorization-mode=RBAC")
            .arg("--disable-admission-plugins=ServiceAccount")
            .arg("--service-cluster-ip-range=10.0.0.0/24")
            .arg("--allow-privileged=true")
            .grace_period(Duration::from_secs(10));
        if input.detached {
            spec = spec.detached();
        }
        let process = ManagedProcess::spawn(spec)?;
        match wait_ready(&process, &config, &kubeconfig).await {
            Ok(()) => {
                return Ok(ApiServer {
                    process,
                    server_url,
                    kubeconfig,
                    config,
                });
            }
            Err(error)
                if attempt < ATTEMPTS && process.read_logs().contains("address already in use") =>
            {
                crate::progress::say(&format!(
                    "kube-apiserver lost a port race, retrying: {error}"
                ));
                process.stop().await;
            }
            Err(error) => return Err(error),
        }
    }
}

async fn wait_ready(
    process: &ManagedProcess,
    config: &kube::Config,
    kubeconfig: &Path,
) -> Result<()> {
    let client = crate::kubeconfig::client_for(config, kubeconfig)?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    poll_until(
        "kube-apiserver /readyz and namespace default",
        READY_TIMEOUT,
        Duration::from_millis(250),
        || {
            let client = client.clone();
            let namespaces = namespaces.clone();
            async move {
                if let Some(status) = process.exit_status() {
                    return Attempt::Fatal(process.exited_error(status));
                }
                let request = match http::Request::get("/readyz").body(Vec::new()) {
                    Ok(request) => request,
                    Err(e) => {
                        return Attempt::Fatal(Error::InvalidArgument {
                            field: "readyz request",
                            message: e.to_string(),
                        });
                    }
                };
                match client.request_text(request).await {
                    Ok(body) if body.trim() == "ok" => {}
                    Ok(body) => return Attempt::NotYet(format!("/readyz said {}", body.trim())),
                    Err(error) => return Attempt::NotYet(format!("/readyz: {error}")),
                }
                match namespaces.get_opt("default").await {
                    Ok(Some(_)) => Attempt::Done(()),
                    Ok(None) => Attempt::NotYet("namespace default does not exist yet".to_string()),
                    Err(error) => Attempt::NotYet(format!("reading namespace default: {error}")),
                }
            }
        },
    )
    .await
}
