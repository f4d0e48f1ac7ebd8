//! The driver conformance suite: the rules of the driver contract that every
//! provider must follow, checked against a provider's real driver and backend.
//!
//! The machine controller relies on these rules (contract 01 §3–4, 02 §3.2, §5.5):
//! `GetMachineStatus` answers `NotFound` for a machine without a VM (that is what
//! makes the controller call `CreateMachine`); `CreateMachine` is idempotent (a
//! retried create after a timeout must not make a second VM); `ListMachines` reports
//! every VM of a class so orphans can be collected; `DeleteMachine` of a missing VM
//! — also one without a provider ID — succeeds or says `NotFound`; a bad providerSpec
//! is `InvalidArgument` and creates nothing; and no error ever carries a secret.
//!
//! ```no_run
//! # async fn example<D: mcm_api::Driver>(driver: D, fixture: mcm_test_kit::conformance::Fixture) {
//! mcm_test_kit::conformance::assert_conformant(&driver, &fixture).await;
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;

use mcm_api::Code;
use mcm_api::Driver;
use mcm_api::driver::{
    CreateMachineRequest, DeleteMachineRequest, DriverError, GetMachineStatusRequest,
    ListMachinesRequest, SecretData,
};
use mcm_api::v1alpha1::{ClassSpec, Machine, MachineClass};

/// What the suite needs from a provider.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// A valid MachineClass (its `providerSpec` must create a VM).
    pub machine_class: MachineClass,
    /// Valid merged secret data (credentials and `userData`).
    pub secret: SecretData,
    /// Classes whose providerSpec is invalid, each with a short label (e.g.
    /// "missing image"); each must make `CreateMachine` fail with `InvalidArgument`.
    pub invalid_classes: Vec<(String, MachineClass)>,
    /// Secret data that is invalid (e.g. credentials missing); `CreateMachine` must
    /// fail with `InvalidArgument`, `Unauthenticated` or `PermissionDenied`.
    pub invalid_secrets: Vec<(String, SecretData)>,
    /// Namespace the Machines live in.
    pub namespace: String,
    /// Prefix of the machine names the suite creates (a random suffix is added).
    pub machine_prefix: String,
}

impl Fixture {
    /// A fixture with the secret's values as canaries and no invalid inputs yet.
    pub fn new(machine_class: MachineClass, secret: SecretData) -> Fixture {
        Fixture {
            machine_class,
            secret,
            invalid_classes: Vec::new(),
            invalid_secrets: Vec::new(),
            namespace: "default".to_owned(),
            machine_prefix: "conformance".to_owned(),
        }
    }

    /// The secret values that must never appear in an error (every value of
    /// `secret` longer than 3 bytes that is valid UTF-8).
    pub fn canaries(&self) -> Vec<String> {
        self.secret
            .keys()
            .filter_map(|key| self.secret.get_str(key).ok())
            .filter(|value| value.len() > 3)
            .map(str::to_owned)
            .collect()
    }
}

/// The outcome of one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The rule, e.g. `create_is_idempotent`.
    pub name: &'static str,
    /// `None` when it held; otherwise what happened.
    pub failure: Option<String>,
}

/// All rules and their outcomes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// In the order they ran.
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether every rule held.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.failure.is_none())
    }

    /// The rules that failed.
    pub fn failures(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| c.failure.is_some()).collect()
    }

    fn record(&mut self, name: &'static str, result: Result<(), String>) {
        self.checks.push(Check {
            name,
            failure: result.err(),
        });
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for check in &self.checks {
            match &check.failure {
                None => writeln!(f, "  ok    {}", check.name)?,
                Some(failure) => writeln!(f, "  FAIL  {}: {failure}", check.name)?,
            }
        }
        Ok(())
    }
}

fn machine(fixture: &Fixture, suffix: &str) -> Machine {
    let name = format!("{}-{suffix}", fixture.machine_prefix);
    let mut machine = Machine::default();
    machine.metadata.name = Some(name.clone());
    machine.metadata.namespace = Some(fixture.namespace.clone());
    machine.metadata.uid = Some(format!("uid-{name}"));
    machine.spec.class = ClassSpec::machine_class(fixture.machine_class.name());
    machine
}

fn describe<R>(error: &DriverError<R>) -> String {
    format!("{:?}: {}", error.code(), error.text())
}

/// Runs every rule and returns the report. VMs the suite creates are deleted at the
/// end (best effort). Errors seen along the way are checked for secret canaries.
pub async fn run<D: Driver>(driver: &D, fixture: &Fixture) -> Report {
    let mut report = Report::default();
    let mut errors: Vec<String> = Vec::new();
    let suffix = random_suffix();
    let subject = machine(fixture, &suffix);
    let class = fixture.machine_class.clone();
    let secret = fixture.secret.clone();
    let status_request = |m: &Machine| GetMachineStatusRequest {
        machine: m.clone(),
        machine_class: class.clone(),
        secret: secret.clone(),
    };
    let list = || async {
        driver
            .list_machines(ListMachinesRequest {
                machine_class: class.clone(),
                secret: secret.clone(),
            })
            .await
    };

    // 1. No VM yet: NotFound.
    let before = driver.get_machine_status(status_request(&subject)).await;
    report.record(
        "get_machine_status_before_create_is_not_found",
        match &before {
            Err(e) if e.code() == Code::NotFound => Ok(()),
            Err(e) => {
                errors.push(e.text());
                Err(format!("expected NotFound, got {}", describe(e)))
            }
            Ok(r) => Err(format!("expected NotFound, got a VM {:?}", r.provider_id)),
        },
    );

    // 2. Create.
    let create = |m: &Machine| CreateMachineRequest {
        machine: m.clone(),
        machine_class: class.clone(),
        secret: secret.clone(),
    };
    let created = driver.create_machine(create(&subject)).await;
    let created = match created {
        Ok(response) => {
            report.record(
                "create_machine_returns_provider_id_and_node_name",
                if response.provider_id.is_empty() || response.node_name.is_empty() {
                    Err(format!("empty provider ID or node name: {response:?}"))
                } else {
                    Ok(())
                },
            );
            Some(response)
        }
        Err(e) => {
            errors.push(e.text());
            report.record(
                "create_machine_returns_provider_id_and_node_name",
                Err(format!("CreateMachine failed: {}", describe(&e))),
            );
            None
        }
    };
    let mut subject_with_id = subject.clone();
    if let Some(created) = &created {
        subject_with_id.spec.provider_id = created.provider_id.clone();
    }

    // 3. Idempotent create.
    if let Some(first) = &created {
        let again = driver.create_machine(create(&subject)).await;
        let listed = list().await;
        let result = match (&again, &listed) {
            (Err(e), _) => {
                errors.push(e.text());
                Err(format!("second CreateMachine failed: {}", describe(e)))
            }
            (Ok(second), _) if second.provider_id != first.provider_id => Err(format!(
                "second CreateMachine made another VM: {} vs {}",
                second.provider_id, first.provider_id
            )),
            (Ok(_), Ok(list)) => {
                let count = list
                    .machine_list
                    .values()
                    .filter(|name| *name == subject.name())
                    .count();
                if count == 1 {
                    Ok(())
                } else {
                    Err(format!("ListMachines shows {count} VMs for the machine"))
                }
            }
            (Ok(_), Err(e)) => Err(format!("ListMachines failed: {}", describe(e))),
        };
        report.record("create_machine_is_idempotent", result);
    }

    // 4. Status after create.
    if let Some(first) = &created {
        let status = driver
            .get_machine_status(status_request(&subject_with_id))
            .await;
        let result = match status {
            Ok(r) if r.provider_id == first.provider_id && r.node_name == first.node_name => Ok(()),
            Ok(r) => Err(format!("reports {r:?}, created {first:?}")),
            Err(e) if e.code() == Code::Uninitialized => match e.response() {
                Some(r) if !r.provider_id.is_empty() => Ok(()),
                _ => Err(
                    "Uninitialized must come with a response carrying providerID and nodeName"
                        .to_owned(),
                ),
            },
            Err(e) => {
                errors.push(e.text());
                Err(format!("GetMachineStatus failed: {}", describe(&e)))
            }
        };
        report.record("get_machine_status_finds_the_created_vm", result);
    }

    // 5. ListMachines.
    if let Some(first) = &created {
        let result = match list().await {
            Ok(listed) => match listed.machine_list.get(&first.provider_id) {
                Some(name) if name == subject.name() => Ok(()),
                Some(name) => Err(format!(
                    "VM listed for machine {name:?}, expected {:?}",
                    subject.name()
                )),
                None => Err(format!(
                    "VM {} not listed: {:?}",
                    first.provider_id, listed.machine_list
                )),
            },
            Err(e) => {
                errors.push(e.text());
                Err(format!("ListMachines failed: {}", describe(&e)))
            }
        };
        report.record("list_machines_reports_the_created_vm", result);
    }

    // 6. Invalid providerSpecs.
    for (label, invalid) in &fixture.invalid_classes {
        let before = list()
            .await
            .map(|l| l.machine_list.len())
            .unwrap_or(usize::MAX);
        let bad = machine(fixture, &format!("{suffix}-bad"));
        let result = driver
            .create_machine(CreateMachineRequest {
                machine: bad,
                machine_class: invalid.clone(),
                secret: secret.clone(),
            })
            .await;
        let after = list()
            .await
            .map(|l| l.machine_list.len())
            .unwrap_or(usize::MAX);
        let outcome = match result {
            Err(e) if e.code() == Code::InvalidArgument => {
                errors.push(e.text());
                if after == before {
                    Ok(())
                } else {
                    Err(format!("{label}: InvalidArgument, but a VM was created"))
                }
            }
            Err(e) => {
                errors.push(e.text());
                Err(format!(
                    "{label}: expected InvalidArgument, got {}",
                    describe(&e)
                ))
            }
            Ok(r) => Err(format!(
                "{label}: expected InvalidArgument, a VM was created: {}",
                r.provider_id
            )),
        };
        report.record("invalid_provider_spec_is_invalid_argument", outcome);
    }

    // 7. Invalid secrets.
    for (label, bad_secret) in &fixture.invalid_secrets {
        let result = driver
            .create_machine(CreateMachineRequest {
                machine: machine(fixture, &format!("{suffix}-cred")),
                machine_class: class.clone(),
                secret: bad_secret.clone(),
            })
            .await;
        let outcome = match result {
            Err(e)
                if matches!(
                    e.code(),
                    Code::InvalidArgument | Code::Unauthenticated | Code::PermissionDenied
                ) =>
            {
                errors.push(e.text());
                Ok(())
            }
            Err(e) => {
                errors.push(e.text());
                Err(format!(
                    "{label}: expected InvalidArgument/Unauthenticated/PermissionDenied, got {}",
                    describe(&e)
                ))
            }
            Ok(r) => Err(format!(
                "{label}: a VM was created with bad credentials: {}",
                r.provider_id
            )),
        };
        report.record("invalid_secret_is_rejected", outcome);
    }

    // 8. Delete, then delete again, then delete without a provider ID.
    if created.is_some() {
        let delete = |m: &Machine| DeleteMachineRequest {
            machine: m.clone(),
            machine_class: class.clone(),
            secret: secret.clone(),
        };
        let deleted = driver.delete_machine(delete(&subject_with_id)).await;
        let gone = driver
            .get_machine_status(status_request(&subject_with_id))
            .await;
        report.record(
            "delete_machine_removes_the_vm",
            match (&deleted, &gone) {
                (Err(e), _) => {
                    errors.push(e.text());
                    Err(format!("DeleteMachine failed: {}", describe(e)))
                }
                (Ok(_), Err(e)) if e.code() == Code::NotFound => Ok(()),
                (Ok(_), Err(e)) => Err(format!(
                    "after delete, GetMachineStatus says {}",
                    describe(e)
                )),
                (Ok(_), Ok(r)) => Err(format!(
                    "after delete, the VM is still there: {}",
                    r.provider_id
                )),
            },
        );
        let again = driver.delete_machine(delete(&subject_with_id)).await;
        report.record(
            "delete_machine_of_a_missing_vm_succeeds",
            ok_or_not_found(again, &mut errors),
        );
    }
    let never_created = machine(fixture, &format!("{suffix}-none"));
    let without_id = driver
        .delete_machine(DeleteMachineRequest {
            machine: never_created,
            machine_class: class.clone(),
            secret: secret.clone(),
        })
        .await;
    report.record(
        "delete_machine_without_provider_id_succeeds",
        ok_or_not_found(without_id, &mut errors),
    );

    // 9. No secret in any error.
    let canaries = fixture.canaries();
    let leaks: Vec<String> = errors
        .iter()
        .filter(|text| canaries.iter().any(|c| text.contains(c.as_str())))
        .cloned()
        .collect();
    report.record(
        "errors_never_contain_secret_values",
        if leaks.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} error(s) contain a secret value (texts withheld)",
                leaks.len()
            ))
        },
    );
    report
}

fn ok_or_not_found<R>(
    result: Result<R, DriverError<R>>,
    errors: &mut Vec<String>,
) -> Result<(), String> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Code::NotFound => Ok(()),
        Err(e) => {
            errors.push(e.text());
            Err(format!("expected OK or NotFound, got {}", describe(&e)))
        }
    }
}

fn random_suffix() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..6)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)]))
        .collect()
}

/// Runs the suite and panics with the report if any rule failed.
pub async fn assert_conformant<D: Driver>(driver: &D, fixture: &Fixture) {
    let report = run(driver, fixture).await;
    assert!(report.passed(), "driver conformance failed:\n{report}");
}

/// A summary map `rule → passed` (handy for printing tables).
pub fn summary(report: &Report) -> BTreeMap<&'static str, bool> {
    report
        .checks
        .iter()
        .map(|c| (c.name, c.failure.is_none()))
        .collect()
}
