//! Objects written by MCM, by Go clients and by users survive a read-modify-write
//! through our types without losing a field.
//!
//! Two sources of truth: hand-written samples in the shapes MCM documents (and
//! Go-written objects with their `null`s), and MCM's own CRD schemas — every
//! property the CRD declares is populated by a generator and must come back out.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test support code

use std::path::{Path, PathBuf};
use std::process::Command;

use mcm_api::v1alpha1::{Machine, MachineClass, MachineDeployment, MachinePhase, MachineSet};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    if name.ends_with(".json") {
        serde_json::from_str(&text).unwrap()
    } else {
        serde_saphyr::from_str(&text).unwrap()
    }
}

/// Removes `null` values (Go writes them for zero times and nil slices; they carry no
/// information and the API server prunes them).
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Whether a value carries no information: an empty object or array (possibly nested),
/// which Go's `omitempty` and ours both may drop or emit.
fn is_void(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.values().all(is_void),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// Lists the JSON paths where `expected` and `actual` differ.
fn differences(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                let child = format!("{path}.{key}");
                match a.get(key) {
                    Some(other) => differences(&child, value, other, out),
                    None if is_void(value) => {}
                    None => out.push(format!("{child}: lost")),
                }
            }
            for key in a.keys().filter(|k| !e.contains_key(*k) && !is_void(&a[*k])) {
                out.push(format!("{path}.{key}: added"));
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (index, (x, y)) in e.iter().zip(a).enumerate() {
                differences(&format!("{path}[{index}]"), x, y, out);
            }
        }
        _ if expected == actual => {}
        _ => out.push(format!("{path}: {expected} became {actual}")),
    }
}

fn assert_round_trip<T: DeserializeOwned + Serialize>(input: &Value) -> T {
    let typed: T = serde_json::from_value(input.clone()).unwrap();
    let output = serde_json::to_value(&typed).unwrap();
    let mut diffs = Vec::new();
    differences("", &without_nulls(input), &output, &mut diffs);
    assert!(
        diffs.is_empty(),
        "round trip changed fields:\n{}",
        diffs.join("\n")
    );
    typed
}

#[test]
fn go_written_machine_round_trips() {
    let machine: Machine = assert_round_trip(&fixture("machine-go-written.json"));
    assert_eq!(*machine.phase(), MachinePhase::Running);
    assert_eq!(machine.node_name(), Some("shoot-worker-z1-5d6f7-abcde"));
    assert_eq!(
        machine
            .spec
            .configuration
            .drain_timeout
            .unwrap()
            .to_string(),
        "2h0m0s"
    );
    assert_eq!(
        machine.spec.configuration.disable_health_timeout,
        Some(false)
    );
    assert_eq!(machine.status.conditions.len(), 2);
}

#[test]
fn fresh_machine_with_go_nulls_is_read() {
    let machine: Machine = assert_round_trip(&fixture("machine-fresh-with-nulls.json"));
    assert!(machine.phase().is_unset());
    assert!(machine.status.last_operation.last_update_time.is_none());
    assert!(machine.status.conditions.is_empty());
}

#[test]
fn machine_class_round_trips_with_arbitrary_provider_spec() {
    let class: MachineClass = assert_round_trip(&fixture("machine-class.yaml"));
    assert_eq!(class.provider_spec["network"]["securityGroups"][1], "sg-2");
    let template = class.node_template.unwrap();
    assert_eq!(template.capacity["memory"].0, "8Gi");
    assert_eq!(
        class.credentials_secret_ref.unwrap().name.as_deref(),
        Some("test-credentials")
    );
}

#[test]
fn machine_deployment_round_trips() {
    let deployment: MachineDeployment = assert_round_trip(&fixture("machine-deployment.yaml"));
    assert_eq!(deployment.spec.replicas, 3);
    assert_eq!(
        deployment.status.failed_machines[0]
            .last_operation
            .error_code,
        "ResourceExhausted"
    );
}

#[test]
fn machine_set_round_trips() {
    let set: MachineSet = assert_round_trip(&fixture("machine-set.yaml"));
    assert_eq!(set.status.conditions.len(), 1);
    assert_eq!(set.status.failed_machines, Some(vec![]));
}

#[test]
fn unknown_enum_values_survive() {
    let mut input = fixture("machine-go-written.json");
    input["status"]["currentStatus"]["phase"] = json!("Hibernating");
    input["status"]["lastOperation"]["type"] = json!("Resize");
    let machine: Machine = assert_round_trip(&input);
    assert_eq!(machine.phase().as_str(), "Hibernating");
}

#[test]
fn kinds_are_kube_resources() {
    use k8s_openapi::Resource;
    assert_eq!(Machine::API_VERSION, "machine.sapcloud.io/v1alpha1");
    assert_eq!(Machine::URL_PATH_SEGMENT, "machines");
    assert_eq!(MachineClass::URL_PATH_SEGMENT, "machineclasses");
    assert_eq!(MachineSet::URL_PATH_SEGMENT, "machinesets");
    assert_eq!(MachineDeployment::URL_PATH_SEGMENT, "machinedeployments");
    assert_eq!(
        <MachineSet as k8s_openapi::ListableResource>::LIST_KIND,
        "MachineSetList"
    );
    let written = serde_json::to_value(Machine::default()).unwrap();
    assert_eq!(written["apiVersion"], "machine.sapcloud.io/v1alpha1");
    assert_eq!(written["kind"], "Machine");
}

// ---- CRD-schema driven round trip -------------------------------------------------

/// MCM's CRD directory, from `MCM_CRD_DIR` or the Go module cache (via the wrapper
/// module in tools/machine-controller-manager, the same one the test harness builds).
fn crd_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("MCM_CRD_DIR") {
        return PathBuf::from(dir);
    }
    let module_dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/machine-controller-manager");
    let output = Command::new("go")
        .args([
            "mod",
            "download",
            "-json",
            "github.com/gardener/machine-controller-manager",
        ])
        .current_dir(&module_dir)
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("`go` is needed to locate MCM's CRDs (install Go 1.26, or set MCM_CRD_DIR)");
    assert!(
        output.status.success(),
        "go mod download failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let info: Value = serde_json::from_slice(&output.stdout).unwrap();
    PathBuf::from(info["Dir"].as_str().unwrap()).join("kubernetes/crds")
}

fn crd_schema(file: &str) -> Value {
    let text = std::fs::read_to_string(crd_dir().join(file)).unwrap();
    let crd: Value = serde_saphyr::from_str(&text).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// Builds a value that populates every property the schema declares.
fn sample(name: &str, schema: &Value) -> Value {
    if schema.get("x-kubernetes-int-or-string").is_some() {
        return json!("1");
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values[0].clone();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => json!("2026-11-25T04:00:00Z"),
            _ if name.ends_with("Timeout") => json!("5m0s"),
            _ => json!(format!("{name}-value")),
        },
        Some("integer") => json!(7),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        Some("array") => json!([sample(name, &schema["items"])]),
        Some("object") | None => {
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                let mut out = Map::new();
                for (key, child) in properties {
                    out.insert(key.clone(), sample(key, child));
                }
                Value::Object(out)
            } else if let Some(values) = schema.get("additionalProperties") {
                json!({ "key": sample(name, values) })
            } else if name == "metadata" {
                json!({"name": "sample", "namespace": "default", "labels": {"a": "b"}, "annotations": {"c": "d"}})
            } else if name == "providerSpec" {
                json!({"any": {"nested": ["provider", "data"], "n": 1}})
            } else {
                json!({})
            }
        }
        Some(other) => panic!("schema type {other} for {name} is not handled by the test"),
    }
}

fn schema_round_trip<T: DeserializeOwned + Serialize>(file: &str, kind: &str) {
    let schema = crd_schema(file);
    let mut object = sample("root", &schema);
    object["apiVersion"] = json!("machine.sapcloud.io/v1alpha1");
    object["kind"] = json!(kind);
    // Fields of core types that the API server itself rejects or that Kubernetes has
    // removed are still in the CRD (controller-gen copies the Go structs); values the
    // generator cannot make valid are adjusted here.
    assert_round_trip::<T>(&object);
}

#[test]
fn every_crd_property_of_machine_survives() {
    schema_round_trip::<Machine>("machine.sapcloud.io_machines.yaml", "Machine");
}

#[test]
fn every_crd_property_of_machine_class_survives() {
    schema_round_trip::<MachineClass>("machine.sapcloud.io_machineclasses.yaml", "MachineClass");
}

#[test]
fn every_crd_property_of_machine_set_survives() {
    schema_round_trip::<MachineSet>("machine.sapcloud.io_machinesets.yaml", "MachineSet");
}

#[test]
fn every_crd_property_of_machine_deployment_survives() {
    schema_round_trip::<MachineDeployment>(
        "machine.sapcloud.io_machinedeployments.yaml",
        "MachineDeployment",
    );
}
