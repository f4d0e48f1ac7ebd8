//! Starting etcd for one plane.
//!
//! A single member on loopback, plain HTTP (nothing but the local kube-apiserver talks
//! to it), and `--unsafe-no-fsync` because a test's data is worthless after the test.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{Error, Result};
use crate::ports::free_port;
use crate::process::{ManagedProcess, ProcessSpec};
use crate::wait::{Attempt, poll_until};

/// How long etcd gets to answer `/health`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Start-ups retried when a port was taken between choosing and binding it.
const ATTEMPTS: usize = 3;

/// A running etcd and its client URL.
#[derive(Debug)]
pub(crate) struct Etcd {
    pub process: ManagedProcess,
    pub client_url: String,
}

/// Starts etcd with its data in `<dir>/etcd-data` and its log in `log_dir`.
pub(crate) async fn start(
    binary: &Path,
    dir: &Path,
    log_dir: &Path,
    detached: bool,
) -> Result<Etcd> {
    let data_dir = dir.join("etcd-data");
    let mut attempt = 0;
    loop {
        attempt += 1;
        let _ = std::fs::remove_dir_all(&data_dir);
        let client_port = free_port().map_err(|e| Error::io("choosing a port for etcd", e))?;
        let peer_port = free_port().map_err(|e| Error::io("choosing a port for etcd", e))?;
        let client_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let mut spec = ProcessSpec::new("etcd", binary, log_dir)
            .arg("--name=default")
            .arg(format!("--data-dir={}", data_dir.display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=default={peer_url}"))
            .arg("--unsafe-no-fsync=true")
            .arg("--log-level=warn")
            .grace_period(Duration::from_secs(5));
        if detached {
            spec = spec.detached();
        }
        let process = ManagedProcess::spawn(spec)?;
        match wait_healthy(&process, client_port).await {
            Ok(()) => {
                return Ok(Etcd {
                    process,
                    client_url,
                });
            }
            Err(error)
                if attempt < ATTEMPTS && process.read_logs().contains("address already in use") =>
            {
                crate::progress::say(&format!("etcd lost a port race, retrying: {error}"));
                process.stop().await;
            }
            Err(error) => return Err(error),
        }
    }
}

async fn wait_healthy(process: &ManagedProcess, port: u16) -> Result<()> {
    poll_until(
        "etcd /health",
        READY_TIMEOUT,
        Duration::from_millis(100),
        || async move {
            if let Some(status) = process.exit_status() {
                return Attempt::Fatal(process.exited_error(status));
            }
            match get_health(port).await {
                Ok(body) if body.contains("\"health\":\"true\"") => Attempt::Done(()),
                Ok(body) => Attempt::NotYet(format!("/health said {}", body.trim())),
                Err(error) => Attempt::NotYet(format!("/health: {error}")),
            }
        },
    )
    .await
}

/// `GET /health` over a raw HTTP/1.0 exchange; returns the response including headers.
async fn get_health(port: u16) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}
