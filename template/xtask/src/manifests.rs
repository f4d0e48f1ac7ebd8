//! Reading the sample manifests in `kubernetes/` and fitting them to a namespace and a
//! running simulated cloud, so `sim-cloud` and `e2e` use exactly the files users apply.

use std::path::Path;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mcm_simulated_cloud::secret_keys;
use serde_json::Value;

/// Reads a one-document YAML file as JSON.
pub fn read(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: Value = serde_saphyr::from_str(&text)
        .with_context(|| format!("parsing {} as YAML", path.display()))?;
    if !value.is_object() {
        bail!("{} does not hold a Kubernetes object", path.display());
    }
    Ok(value)
}

/// Puts an object into `namespace` (and the `secretRef` of a MachineClass along with it).
pub fn move_to_namespace(object: &mut Value, namespace: &str) {
    object["metadata"]["namespace"] = Value::from(namespace);
    if object.get("secretRef").is_some() {
        object["secretRef"]["namespace"] = Value::from(namespace);
    }
}

/// Points the Secret of `kubernetes/secret.yaml` at a running simulated cloud.
pub fn point_secret_at(secret: &mut Value, endpoint: &str, token: &str) {
    secret["data"][secret_keys::ENDPOINT] = Value::from(STANDARD.encode(endpoint));
    secret["data"][secret_keys::TOKEN] = Value::from(STANDARD.encode(token));
}
