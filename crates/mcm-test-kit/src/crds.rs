//! Installing MCM's CRDs into a plane.
//!
//! MCM exits if `machine.sapcloud.io/v1alpha1` is not discoverable shortly after it
//! starts, so a plane counts as ready only when every CRD is `Established` and discovery
//! lists all four resources.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{Patch, PatchParams};

use crate::error::{Error, Result};
use crate::wait::wait_until;

/// The API group of MCM's resources.
pub const GROUP: &str = "machine.sapcloud.io";
/// Group and version as discovery names them.
pub const GROUP_VERSION: &str = "machine.sapcloud.io/v1alpha1";
/// The resources MCM needs served.
pub const RESOURCES: [&str; 4] = [
    "machineclasses",
    "machinedeployments",
    "machines",
    "machinesets",
];

const FIELD_MANAGER: &str = "mcm-test-kit";
const TIMEOUT: Duration = Duration::from_secs(60);

/// Reads the CRDs in `files` (one or more YAML documents each).
pub fn read_crds(files: &[PathBuf]) -> Result<Vec<CustomResourceDefinition>> {
    let mut crds = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading CRD file {}", path.display()), e))?;
        let documents: Vec<serde_json::Value> =
            serde_saphyr::from_multiple(&text).map_err(|e| crd_error(path, e.to_string()))?;
        for document in documents.into_iter().filter(|d| !d.is_null()) {
            let crd: CustomResourceDefinition = serde_json::from_value(document)
                .map_err(|e| crd_error(path, format!("not a CustomResourceDefinition: {e}")))?;
            crds.push(crd);
        }
    }
    Ok(crds)
}

/// Applies `crds` (server-side apply) and waits until they are established and
/// discoverable.
pub async fn install(client: &kube::Client, crds: &[CustomResourceDefinition]) -> Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::new();
    for crd in crds {
        let name = crd
            .metadata
            .name
            .clone()
            .ok_or_else(|| Error::InvalidArgument {
                field: "CustomResourceDefinition metadata.name",
                message: "a CRD without a name cannot be applied".to_string(),
            })?;
        let mut body = crd.clone();
        body.metadata.resource_version = None;
        body.metadata.managed_fields = None;
        body.status = None;
        api.patch(&name, &params, &Patch::Apply(&body))
            .await
            .map_err(|e| Error::kube(format!("applying CRD {name}"), e))?;
        names.push(name);
    }

    for name in &names {
        let api = api.clone();
        wait_until(
            format!("CRD {name} to be Established"),
            TIMEOUT,
            Duration::from_millis(100),
            || {
                let api = api.clone();
                async move {
                    let crd = api.get(name).await.map_err(|e| e.to_string())?;
                    let established = crd
                        .status
                        .and_then(|s| s.conditions)
                        .unwrap_or_default()
                        .iter()
                        .any(|c| c.type_ == "Established" && c.status == "True");
                    if established {
                        Ok(())
                    } else {
                        Err("condition Established is not True yet".to_string())
                    }
                }
            },
        )
        .await?;
    }
    Ok(())
}

/// Waits until discovery serves all of [`RESOURCES`] in [`GROUP_VERSION`].
pub async fn wait_discoverable(client: &kube::Client) -> Result<()> {
    wait_until(
        format!("discovery to serve {GROUP_VERSION}"),
        TIMEOUT,
        Duration::from_millis(100),
        || async {
            let list = client
                .list_api_group_resources(GROUP_VERSION)
                .await
                .map_err(|e| e.to_string())?;
            let served: Vec<&str> = list.resources.iter().map(|r| r.name.as_str()).collect();
            let missing: Vec<&str> = RESOURCES
                .iter()
                .copied()
                .filter(|r| !served.contains(r))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("not served yet: {}", missing.join(", ")))
            }
        },
    )
    .await
}

fn crd_error(path: &Path, message: String) -> Error {
    Error::Crd {
        path: path.to_path_buf(),
        message,
    }
}
