//! Everything `cargo xtask demo` and `cargo xtask e2e` run: a provider generated from
//! `template/` and built against this checkout, a control plane (kube-apiserver, etcd,
//! MCM's CRDs), the real MCM binary, the simulated cloud registering real Nodes, and
//! the generated machine controller — all as separate processes, wired together the
//! way a provider author runs them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::core::GroupVersionKind;
use mcm_api::v1alpha1::{Machine, MachinePhase};
use mcm_simulated_cloud::CloudClient;
use mcm_test_kit::background::ClusterState;
use mcm_test_kit::{ManagedProcess, ProcessSpec, free_port, wait_until};

/// The names a demo/e2e provider is generated with.
#[derive(Debug, Clone)]
pub struct ProviderNames {
    /// As written (`demo`, `MyCloud`).
    pub provider: String,
    /// The GitHub org.
    pub project: String,
}

/// A generated and built provider.
#[derive(Debug, Clone)]
pub struct Provider {
    /// The generated repository.
    pub dir: PathBuf,
    /// Its machine-controller binary.
    pub binary: PathBuf,
}

/// Where demo and e2e render providers: outside any Cargo workspace (a workspace would
/// adopt the generated repository; the template refuses that), kept between runs.
pub fn generation_dir(purpose: &str) -> PathBuf {
    std::env::temp_dir().join("mcm-rs-xtask").join(purpose)
}

/// Prints a timestamped progress line.
pub fn say(started: Instant, text: &str) {
    eprintln!("[{:>6.1}s] {text}", started.elapsed().as_secs_f64());
}

/// This repository's root.
pub fn repo_root() -> anyhow::Result<PathBuf> {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = xtask.parent().context("xtask has no parent directory")?;
    std::fs::canonicalize(root).with_context(|| format!("resolving {}", root.display()))
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Fails with what to install when Go or cargo-generate is missing.
pub fn check_prerequisites() -> anyhow::Result<()> {
    let go = Command::new("go").arg("version").output();
    if !go.is_ok_and(|o| o.status.success()) {
        bail!(
            "Go is needed to build kube-apiserver, etcd and the MCM binary: install Go 1.26 \
             (https://go.dev/dl/) and make sure `go` is on PATH"
        );
    }
    crate::smoke::cargo_generate_version().map(|_| ())
}

/// Renders `template/` into `parent/<crate>` (replacing an earlier rendering) and builds
/// its machine controller with `target_dir`, starting from this repository's lock file.
pub fn generate_and_build(
    repo: &Path,
    parent: &Path,
    names: &ProviderNames,
    target_dir: &Path,
    started: Instant,
) -> anyhow::Result<Provider> {
    let kebab = heck::ToKebabCase::to_kebab_case(names.provider.as_str());
    let crate_name = format!("machine-controller-manager-provider-{kebab}");
    let dir = parent.join(&crate_name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    say(
        started,
        &format!("generating {crate_name} from template/ (cargo generate)"),
    );
    let output = cargo()
        .args(["generate", "--path"])
        .arg(repo.join("template"))
        .args(["--name", &crate_name, "--destination"])
        .arg(parent)
        .args(["--silent", "-d"])
        .arg(format!("provider={}", names.provider))
        .arg("-d")
        .arg(format!("project={}", names.project))
        .arg("-d")
        .arg(format!("runtime_path={}", repo.display()))
        .env("CARGO_NAME", "demo")
        .env("CARGO_EMAIL", "demo@example.invalid")
        .output()
        .context("running cargo generate")?;
    if !output.status.success() {
        bail!(
            "cargo generate failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::fs::copy(repo.join("Cargo.lock"), dir.join("Cargo.lock")).context("seeding Cargo.lock")?;
    say(
        started,
        &format!(
            "building its machine controller (target dir {})",
            target_dir.display()
        ),
    );
    let status = cargo()
        .args(["build", "--bin", "machine-controller"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", target_dir)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the generated provider failed (see the cargo output above)");
    }
    Ok(Provider {
        dir,
        binary: target_dir.join("debug/machine-controller"),
    })
}

/// Builds the simulated cloud's binary from this workspace.
pub fn build_simulated_cloud(repo: &Path, started: Instant) -> anyhow::Result<PathBuf> {
    say(started, "building mcm-simulated-cloud");
    let status = cargo()
        .args([
            "build",
            "-p",
            "mcm-simulated-cloud",
            "--bin",
            "mcm-simulated-cloud",
        ])
        .current_dir(repo)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building mcm-simulated-cloud failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"));
    Ok(target.join("debug/mcm-simulated-cloud"))
}

/// A running simulated cloud process.
pub struct Cloud {
    /// The process.
    pub process: ManagedProcess,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its token.
    pub token: String,
}

impl std::fmt::Debug for Cloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cloud")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Cloud {
    /// Starts `mcm-simulated-cloud serve` registering Nodes in the cluster of
    /// `kubeconfig`; state and logs go to `dir`.
    pub async fn start(
        binary: &Path,
        dir: &Path,
        kubeconfig: &Path,
        extra_args: &[&str],
        detached: bool,
    ) -> anyhow::Result<Cloud> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let token = format!("demo-{:016x}", rand::random::<u64>());
        let token_file = dir.join("token");
        std::fs::write(&token_file, &token).context("writing the cloud token")?;
        let ready_file = dir.join("ready");
        let _ = std::fs::remove_file(&ready_file);
        let mut spec = ProcessSpec::new("simulated-cloud", binary, dir.join("logs"))
            .arg("serve")
            .arg("--listen=127.0.0.1:0")
            .arg(format!("--state={}", dir.join("state.json").display()))
            .arg(format!("--token-file={}", token_file.display()))
            .arg(format!("--target-kubeconfig={}", kubeconfig.display()))
            .arg(format!("--ready-file={}", ready_file.display()))
            .arg("--boot-delay=1s")
            .arg("--heartbeat-interval=5s")
            .args(extra_args);
        if detached {
            spec = spec.detached();
        }
        let process = ManagedProcess::spawn(spec).context("starting the simulated cloud")?;
        let url = wait_until(
            "the simulated cloud to listen",
            Duration::from_secs(30),
            Duration::from_millis(100),
            || async {
                match std::fs::read_to_string(&ready_file) {
                    Ok(url) if !url.trim().is_empty() => Ok(url.trim().to_owned()),
                    _ => Err("no ready file yet"),
                }
            },
        )
        .await
        .with_context(|| format!("simulated cloud log: {}", process.log_path().display()))?;
        Ok(Cloud {
            process,
            url,
            token,
        })
    }

    /// A client with the cloud token.
    pub fn client(&self) -> anyhow::Result<CloudClient> {
        CloudClient::new(&self.url, self.token.clone()).context("building the cloud client")
    }
}

/// The flags a generated machine controller runs with in the demo and e2e.
pub fn controller_args(
    kubeconfig: &Path,
    namespace: &str,
    port: u16,
    extra: &[String],
) -> Vec<String> {
    let mut args = vec![
        format!("--control-kubeconfig={}", kubeconfig.display()),
        format!("--target-kubeconfig={}", kubeconfig.display()),
        format!("--namespace={namespace}"),
        "--address=127.0.0.1".to_owned(),
        format!("--port={port}"),
        "--leader-elect=false".to_owned(),
        "--machine-drain-timeout=2m".to_owned(),
        "--machine-safety-orphan-vms-period=10s".to_owned(),
        "--v=2".to_owned(),
    ];
    args.extend(extra.iter().cloned());
    args
}

/// Starts one machine-controller process.
pub async fn start_controller(
    binary: &Path,
    log_dir: &Path,
    name: &str,
    kubeconfig: &Path,
    namespace: &str,
    extra: &[String],
    detached: bool,
) -> anyhow::Result<(ManagedProcess, u16)> {
    let port = free_port().context("choosing a port")?;
    let mut spec = ProcessSpec::new(name, binary, log_dir)
        .args(controller_args(kubeconfig, namespace, port, extra));
    if detached {
        spec = spec.detached();
    }
    let process = ManagedProcess::spawn(spec).with_context(|| format!("starting {name}"))?;
    process
        .wait_listening(port, Duration::from_secs(30))
        .await
        .with_context(|| {
            format!(
                "{name} did not listen on port {port}; log: {}",
                process.log_path().display()
            )
        })?;
    Ok((process, port))
}

/// The provider's sample manifests, made ready for this namespace and cloud: every
/// object's namespace set, the Secret pointed at the running cloud.
pub fn sample_objects(
    provider_dir: &Path,
    file: &str,
    namespace: &str,
    cloud: &Cloud,
) -> anyhow::Result<Vec<DynamicObject>> {
    let path = provider_dir.join("kubernetes").join(file);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut objects = Vec::new();
    for document in serde_saphyr::from_multiple::<serde_json::Value>(&text)
        .with_context(|| format!("parsing {}", path.display()))?
    {
        if document.is_null() {
            continue;
        }
        let mut object: DynamicObject = serde_json::from_value(document)
            .with_context(|| format!("reading an object of {}", path.display()))?;
        object.metadata.namespace = Some(namespace.to_owned());
        if object.types.as_ref().is_some_and(|t| t.kind == "Secret") {
            let data = object.data.get_mut("data").and_then(|d| d.as_object_mut());
            if let Some(data) = data {
                use base64::Engine as _;
                let b64 = base64::engine::general_purpose::STANDARD;
                data.insert("simcloudEndpoint".into(), b64.encode(&cloud.url).into());
                data.insert("simcloudToken".into(), b64.encode(&cloud.token).into());
            }
        }
        if let Some(secret_ref) = object
            .data
            .get_mut("secretRef")
            .and_then(|r| r.as_object_mut())
        {
            secret_ref.insert("namespace".into(), namespace.into());
        }
        objects.push(object);
    }
    Ok(objects)
}

/// Creates objects (any kind the discovery knows) in their namespaces.
pub async fn create_objects(
    client: &kube::Client,
    objects: Vec<DynamicObject>,
) -> anyhow::Result<()> {
    for object in objects {
        let types = object
            .types
            .clone()
            .context("object without apiVersion/kind")?;
        let gvk = GroupVersionKind::try_from(&types).context("bad apiVersion")?;
        let (resource, _) = kube::discovery::pinned_kind(client, &gvk)
            .await
            .with_context(|| format!("discovering {}", types.kind))?;
        let namespace = object.metadata.namespace.clone().unwrap_or_default();
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &resource);
        let name = object.metadata.name.clone().unwrap_or_default();
        api.create(&PostParams::default(), &object)
            .await
            .with_context(|| format!("creating {} {namespace}/{name}", types.kind))?;
    }
    Ok(())
}

/// Waits until the machines selected by `selector` are exactly `count`, all Running.
pub async fn wait_running(
    client: &kube::Client,
    namespace: &str,
    selector: &str,
    count: usize,
    timeout: Duration,
) -> anyhow::Result<Vec<Machine>> {
    let machines: Api<Machine> = Api::namespaced(client.clone(), namespace);
    let selector = selector.to_owned();
    let result = wait_until(
        format!("{count} Running machine(s) ({selector})"),
        timeout,
        Duration::from_millis(500),
        || {
            let machines = machines.clone();
            let selector = selector.clone();
            async move {
                let list = machines
                    .list(&ListParams::default().labels(&selector))
                    .await
                    .map_err(|e| e.to_string())?;
                let running = list
                    .items
                    .iter()
                    .filter(|m| *m.phase() == MachinePhase::Running)
                    .count();
                if running == count && list.items.len() == count {
                    Ok(list.items)
                } else {
                    let phases: Vec<String> = list
                        .items
                        .iter()
                        .map(|m| format!("{}={}", m.name(), m.phase()))
                        .collect();
                    Err(format!("{phases:?}"))
                }
            }
        },
    )
    .await?;
    Ok(result)
}

/// Ready Nodes registered by a simulated cloud.
pub async fn ready_nodes(client: &kube::Client) -> anyhow::Result<usize> {
    let nodes: Api<Node> = Api::all(client.clone());
    Ok(nodes
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .count())
}

/// The background cluster's state, for printing where things are.
pub fn describe_state(state: &ClusterState) -> String {
    let mut out = String::new();
    for process in &state.processes {
        out.push_str(&format!(
            "  {:<28} PID {:<7} log {}\n",
            process.name,
            process.pid,
            process.log.display()
        ));
    }
    out
}
