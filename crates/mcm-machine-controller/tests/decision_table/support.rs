//! A scripted, recording implementation of `Effects` and builders for the objects
//! of the decision table. Every driver call and every write must be scripted or
//! have a default answer; an unexpected driver call fails the test.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;

use k8s_openapi::api::core::v1::{
    Node, NodeCondition, NodeSpec, NodeStatus, SecretReference, Taint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use mcm_api::driver::{
    CreateMachineRequest, CreateMachineResponse, DeleteMachineRequest, DeleteMachineResponse,
    DriverError, DriverResult, GetMachineStatusRequest, GetMachineStatusResponse,
    InitializeMachineRequest, InitializeMachineResponse, SecretData,
};
use mcm_api::v1alpha1::{
    ClassSpec, Machine, MachineClass, MachineOperationType, MachinePhase, MachineState,
    MachineStatus, NodeTemplate, NodeTemplateSpec,
};
use mcm_api::well_known::{
    finalizers, machine_annotations, machine_labels, node_annotations, node_labels,
};
use mcm_api::{Code, Status};
use mcm_machine_controller::decide::deletion::DrainPolicy;
use mcm_machine_controller::decide::lookup::{Lookup, WriteError, WriteResult};
use mcm_machine_controller::flow::{self, Effects, Observation, PassContext};
use mcm_machine_controller::{ControllerConfig, Retry, TargetMode};

pub const MACHINE: &str = "machine-1";
pub const NAMESPACE: &str = "shoot--test";
pub const CLASS: &str = "class-1";
pub const SECRET: &str = "secret-1";
pub const NODE: &str = "node-1";
pub const PROVIDER_ID: &str = "sim://zone-a/i-1";

pub fn now() -> Timestamp {
    "2026-11-25T10:00:00Z".parse().unwrap()
}

pub fn ago(minutes: i64) -> Time {
    Time(now() - SignedDuration::from_mins(minutes))
}

pub fn ago_secs(seconds: i64) -> Time {
    Time(now() - SignedDuration::from_secs(seconds))
}

/// A Machine of class `class-1` with the MCM finalizer, created a minute ago, never
/// processed (phase `""`, no providerID, no labels).
pub fn machine() -> Machine {
    let mut machine = Machine::default();
    machine.metadata.name = Some(MACHINE.into());
    machine.metadata.namespace = Some(NAMESPACE.into());
    machine.metadata.creation_timestamp = Some(ago(1));
    machine.metadata.finalizers = Some(vec![finalizers::MACHINE_CONTROLLER_MANAGER.into()]);
    machine.spec.class = ClassSpec::machine_class(CLASS);
    machine
}

/// A machine after a successful creation: providerID, node label, priority.
pub fn created_machine(phase: MachinePhase) -> Machine {
    let mut machine = machine();
    machine.spec.provider_id = PROVIDER_ID.into();
    machine
        .labels_mut()
        .insert(machine_labels::NODE.into(), NODE.into());
    machine
        .annotations_mut()
        .insert(machine_annotations::PRIORITY.into(), "3".into());
    set_phase(&mut machine, phase);
    machine
}

pub fn set_phase(machine: &mut Machine, phase: MachinePhase) {
    machine.status.current_status.phase = phase;
    machine.status.current_status.last_update_time = Some(ago(1));
}

pub fn set_last_operation(
    machine: &mut Machine,
    description: &str,
    state: MachineState,
    type_: MachineOperationType,
    minutes_ago: i64,
) {
    machine.status.last_operation.description = description.into();
    machine.status.last_operation.state = state;
    machine.status.last_operation.type_ = type_;
    machine.status.last_operation.last_update_time = Some(ago(minutes_ago));
}

/// A deleting machine (deletionTimestamp a minute ago) in phase Terminating with a
/// marker description.
pub fn deleting_machine(description: &str) -> Machine {
    let mut machine = created_machine(MachinePhase::Terminating);
    machine.metadata.deletion_timestamp = Some(ago(1));
    set_last_operation(
        &mut machine,
        description,
        MachineState::Processing,
        MachineOperationType::Delete,
        1,
    );
    machine
}

pub fn class() -> MachineClass {
    let mut class = MachineClass::default();
    class.metadata.name = Some(CLASS.into());
    class.metadata.namespace = Some(NAMESPACE.into());
    class.metadata.finalizers = Some(vec![finalizers::MACHINE_CONTROLLER_MANAGER.into()]);
    class.provider_spec = serde_json::json!({"image": "img"});
    class.secret_ref = Some(SecretReference {
        name: Some(SECRET.into()),
        namespace: Some(NAMESPACE.into()),
    });
    class
}

pub fn secret_data() -> SecretData {
    [
        (
            "userData",
            "#!/bin/sh\necho <<BOOTSTRAP_TOKEN>> <<MACHINE_NAME>>",
        ),
        ("apiToken", "canary-credential"),
    ]
    .into_iter()
    .collect()
}

pub fn condition(type_: &str, status: &str) -> NodeCondition {
    NodeCondition {
        type_: type_.into(),
        status: status.into(),
        reason: None,
        message: None,
        last_heartbeat_time: Some(ago(1)),
        last_transition_time: Some(ago(1)),
    }
}

/// A Node named `node-1` with these conditions.
pub fn node(conditions: Vec<NodeCondition>) -> Node {
    let mut node = Node::default();
    node.metadata.name = Some(NODE.into());
    node.metadata.creation_timestamp = Some(ago(30));
    node.spec = Some(NodeSpec {
        provider_id: Some(PROVIDER_ID.into()),
        ..NodeSpec::default()
    });
    node.status = Some(NodeStatus {
        conditions: Some(conditions),
        ..NodeStatus::default()
    });
    node
}

pub fn ready_node() -> Node {
    node(vec![condition("Ready", "True")])
}

pub fn critical_taint() -> Taint {
    Taint {
        key: mcm_api::well_known::taints::CRITICAL_COMPONENTS_NOT_READY.into(),
        effect: "NoSchedule".into(),
        value: None,
        time_added: None,
    }
}

/// The Node as the node-side sync of §4.6 leaves it for a machine with an empty node
/// template: labelled with the machine's name and carrying the last-applied template.
pub fn synced(mut node: Node) -> Node {
    node.metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(node_labels::MACHINE_NAME.into(), MACHINE.into());
    node.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(
            node_annotations::LAST_APPLIED_ANNO_LABELS_TAINTS.into(),
            serde_json::to_string(&NodeTemplateSpec::default()).unwrap(),
        );
    node
}

/// A created machine in `phase` whose recorded conditions are those of `node`
/// (so the health step finds them unchanged).
pub fn machine_seeing(phase: MachinePhase, node: &Node) -> Machine {
    let mut machine = created_machine(phase);
    machine.status.conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    machine
}

/// Sets `currentStatus.preserveExpiryTime` (an hour ahead).
pub fn with_pet(mut machine: Machine) -> Machine {
    machine.status.current_status.preserve_expiry_time = Some(ago(-60));
    machine
}

/// Another machine of the rate-limit group `group` in `phase`, preserved or not.
pub fn group_member(group: &str, phase: MachinePhase, preserved: bool) -> Machine {
    let mut member = created_machine(phase);
    member.metadata.name = Some("machine-2".into());
    member
        .labels_mut()
        .insert(machine_labels::NAME.into(), group.into());
    if preserved {
        member = with_pet(member);
    }
    member
}

/// A class with a complete node template carrying this virtual capacity.
pub fn class_with_virtual_capacity(capacity: &[(&str, &str)]) -> MachineClass {
    let mut class = class();
    class.node_template = Some(NodeTemplate {
        capacity: [("cpu", "2"), ("gpu", "0"), ("memory", "4Gi")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Quantity(v.to_owned())))
            .collect(),
        virtual_capacity: capacity
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned())))
            .collect(),
        instance_type: "m5.large".into(),
        region: "region-1".into(),
        zone: "zone-a".into(),
        ..NodeTemplate::default()
    });
    class
}

pub fn err<R>(code: Code, message: &str) -> DriverResult<R> {
    Err(Status::new(code, message).into())
}

pub fn undecodable<R>(text: &str) -> DriverResult<R> {
    Err(DriverError::other(text.to_owned()))
}

pub fn gms_ok(node: &str, provider_id: &str) -> DriverResult<GetMachineStatusResponse> {
    Ok(GetMachineStatusResponse {
        provider_id: provider_id.into(),
        node_name: node.into(),
        addresses: vec![],
    })
}

pub fn create_ok(node: &str, provider_id: &str) -> DriverResult<CreateMachineResponse> {
    Ok(CreateMachineResponse {
        provider_id: provider_id.into(),
        node_name: node.into(),
        last_known_state: String::new(),
        addresses: vec![],
    })
}

/// One thing a pass did.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    GetMachineStatus { user_data: Option<String> },
    CreateMachine { user_data: Option<String> },
    InitializeMachine { provider_id: String },
    DeleteMachine { name: String, provider_id: String },
    UpdateMachine(Machine),
    UpdateMachineStatus(Machine),
    EnsureToken,
    DeleteToken,
    UpdateNode(Node),
    UpdateNodeStatus(Node),
    Cordon(String),
    Drain(String, DrainPolicy),
    ListVolumeAttachments(String),
    DeleteVolumeAttachment(String),
    RemoveNodeFinalizer(String),
    DeleteNode(String),
    AcquirePermit(String),
    ReleasePermit(String),
    AwaitFailedMark(String),
    EnqueueClass(String),
    EnqueueTermination,
    RequeueAlso(Retry),
    CreationStarted,
    Observe(Observation),
}

/// The world a pass sees and the script of answers it gets.
pub struct World {
    pub config: ControllerConfig,
    pub frozen: bool,
    pub creation_in_progress: bool,
    pub class: Lookup<MachineClass>,
    pub secrets: BTreeMap<String, Lookup<SecretData>>,
    pub nodes: BTreeMap<String, Lookup<Node>>,
    pub node_for_machine: Lookup<String>,
    pub group: Vec<Machine>,
    pub gms: VecDeque<DriverResult<GetMachineStatusResponse>>,
    pub create: VecDeque<DriverResult<CreateMachineResponse>>,
    pub initialize: VecDeque<DriverResult<InitializeMachineResponse>>,
    pub delete: VecDeque<DriverResult<DeleteMachineResponse>>,
    pub machine_updates: VecDeque<WriteResult<()>>,
    pub status_updates: VecDeque<WriteResult<()>>,
    pub node_updates: VecDeque<WriteResult<()>>,
    pub node_status_updates: VecDeque<WriteResult<()>>,
    pub token: Result<String, String>,
    pub cordon: Result<(), String>,
    pub drain: Result<(), String>,
    pub live_volume_attachments: Result<Vec<String>, String>,
    pub remove_node_finalizer: Result<(), String>,
    pub delete_node: WriteResult<()>,
    pub permit: bool,
    pub events: Vec<Event>,
}

impl Default for World {
    fn default() -> Self {
        World {
            config: ControllerConfig {
                namespace: NAMESPACE.into(),
                ..ControllerConfig::default()
            },
            frozen: false,
            creation_in_progress: false,
            class: Lookup::Found(class()),
            secrets: [(SECRET.to_owned(), Lookup::Found(secret_data()))].into(),
            nodes: BTreeMap::new(),
            node_for_machine: Lookup::NotFound,
            group: vec![],
            gms: VecDeque::new(),
            create: VecDeque::new(),
            initialize: VecDeque::new(),
            delete: VecDeque::new(),
            machine_updates: VecDeque::new(),
            status_updates: VecDeque::new(),
            node_updates: VecDeque::new(),
            node_status_updates: VecDeque::new(),
            token: Ok("646566.0123456789abcdef".into()),
            cordon: Ok(()),
            drain: Ok(()),
            live_volume_attachments: Ok(vec![]),
            remove_node_finalizer: Ok(()),
            delete_node: Ok(()),
            permit: true,
            events: vec![],
        }
    }
}

impl World {
    pub fn no_target(mut self) -> Self {
        self.config.target = TargetMode::None;
        self
    }

    pub fn with_node(mut self, node: Node) -> Self {
        let name = node.metadata.name.clone().unwrap();
        self.nodes.insert(name, Lookup::Found(node));
        self
    }

    /// The node cache answers this for `name`.
    pub fn with_node_lookup(mut self, name: &str, lookup: Lookup<Node>) -> Self {
        self.nodes.insert(name.to_owned(), lookup);
        self
    }

    pub fn gms(mut self, result: DriverResult<GetMachineStatusResponse>) -> Self {
        self.gms.push_back(result);
        self
    }

    pub fn create(mut self, result: DriverResult<CreateMachineResponse>) -> Self {
        self.create.push_back(result);
        self
    }

    pub fn initialize(mut self, result: DriverResult<InitializeMachineResponse>) -> Self {
        self.initialize.push_back(result);
        self
    }

    pub fn delete(mut self, result: DriverResult<DeleteMachineResponse>) -> Self {
        self.delete.push_back(result);
        self
    }

    fn context(&self) -> (ControllerConfig, bool, bool) {
        (self.config.clone(), self.frozen, self.creation_in_progress)
    }

    /// Runs a machine pass.
    pub fn machine_pass(mut self, machine: Machine) -> Ran {
        let (config, frozen, creation_in_progress) = self.context();
        let ctx = PassContext {
            config: &config,
            now: now(),
            frozen,
            creation_in_progress,
        };
        let retry = block_on(flow::reconcile_machine(&mut self, &ctx, Some(machine)));
        Ran {
            retry,
            events: self.events,
        }
    }

    /// Runs a machine pass for a key whose Machine is gone.
    pub fn machine_pass_missing(mut self) -> Ran {
        let (config, frozen, creation_in_progress) = self.context();
        let ctx = PassContext {
            config: &config,
            now: now(),
            frozen,
            creation_in_progress,
        };
        let retry = block_on(flow::reconcile_machine(&mut self, &ctx, None));
        Ran {
            retry,
            events: self.events,
        }
    }

    /// Runs a termination pass.
    pub fn termination_pass(mut self, machine: Machine) -> Ran {
        let (config, frozen, creation_in_progress) = self.context();
        let ctx = PassContext {
            config: &config,
            now: now(),
            frozen,
            creation_in_progress,
        };
        let retry = block_on(flow::reconcile_termination(&mut self, &ctx, Some(machine)));
        Ran {
            retry,
            events: self.events,
        }
    }
}

/// What a pass did.
#[derive(Debug)]
pub struct Ran {
    pub retry: Retry,
    pub events: Vec<Event>,
}

impl Ran {
    /// The status writes, in order.
    pub fn status_writes(&self) -> Vec<&MachineStatus> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::UpdateMachineStatus(m) => Some(&m.status),
                _ => None,
            })
            .collect()
    }

    /// The single status write; fails if there is not exactly one.
    pub fn status(&self) -> &MachineStatus {
        let writes = self.status_writes();
        assert_eq!(
            writes.len(),
            1,
            "expected one status write, got {:#?}",
            self.events
        );
        writes[0]
    }

    /// The metadata writes, in order.
    pub fn machine_writes(&self) -> Vec<&Machine> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::UpdateMachine(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    /// The Machine sent with the single status write.
    pub fn status_machine(&self) -> &Machine {
        let writes: Vec<&Machine> = self
            .events
            .iter()
            .filter_map(|e| match e {
                Event::UpdateMachineStatus(m) => Some(m),
                _ => None,
            })
            .collect();
        assert_eq!(
            writes.len(),
            1,
            "expected one status write, got {:#?}",
            self.events
        );
        writes[0]
    }

    /// The Node updates (metadata and spec), in order.
    pub fn node_writes(&self) -> Vec<&Node> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::UpdateNode(n) => Some(n),
                _ => None,
            })
            .collect()
    }

    /// The Node status updates, in order.
    pub fn node_status_writes(&self) -> Vec<&Node> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::UpdateNodeStatus(n) => Some(n),
                _ => None,
            })
            .collect()
    }

    /// Names of the driver methods called, in order.
    pub fn driver_calls(&self) -> Vec<&'static str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::GetMachineStatus { .. } => Some("GetMachineStatus"),
                Event::CreateMachine { .. } => Some("CreateMachine"),
                Event::InitializeMachine { .. } => Some("InitializeMachine"),
                Event::DeleteMachine { .. } => Some("DeleteMachine"),
                _ => None,
            })
            .collect()
    }

    /// Whether an event happened.
    pub fn did(&self, event: &Event) -> bool {
        self.events.contains(event)
    }

    /// The earliest of the pass's retry and any extra requeue (client-go's delaying
    /// queue keeps the earlier due time).
    pub fn next(&self) -> Retry {
        let config = ControllerConfig::default();
        let mut best = self.retry;
        for event in &self.events {
            if let Event::RequeueAlso(other) = event {
                let (a, b) = (best.delay(&config), other.delay(&config));
                if let (Some(a), Some(b)) = (a, b)
                    && b < a
                {
                    best = *other;
                }
            }
        }
        best
    }

    /// Asserts nothing was written to the Machine.
    pub fn assert_no_machine_writes(&self) {
        assert!(
            self.status_writes().is_empty() && self.machine_writes().is_empty(),
            "expected no machine writes, got {:#?}",
            self.events
        );
    }
}

pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

fn next_write(queue: &mut VecDeque<WriteResult<()>>) -> WriteResult<()> {
    queue.pop_front().unwrap_or(Ok(()))
}

fn bump(meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) {
    let version: u64 = meta
        .resource_version
        .as_deref()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    meta.resource_version = Some((version + 1).to_string());
}

impl Effects for World {
    fn machine_class(&self, _name: &str) -> Lookup<MachineClass> {
        self.class.clone()
    }

    fn secret(&self, reference: &SecretReference) -> Lookup<SecretData> {
        let name = reference.name.clone().unwrap_or_default();
        self.secrets.get(&name).cloned().unwrap_or(Lookup::NotFound)
    }

    fn machines_in_group(&self, _group: &str) -> Vec<Machine> {
        self.group.clone()
    }

    fn node(&self, name: &str) -> Lookup<Node> {
        self.nodes.get(name).cloned().unwrap_or(Lookup::NotFound)
    }

    fn node_for_machine(&self, _machine_name: &str) -> Lookup<String> {
        self.node_for_machine.clone()
    }

    fn get_machine_status(
        &mut self,
        request: GetMachineStatusRequest,
    ) -> impl Future<Output = DriverResult<GetMachineStatusResponse>> + Send {
        self.events.push(Event::GetMachineStatus {
            user_data: request.secret.get_str("userData").ok().map(str::to_owned),
        });
        let answer = self
            .gms
            .pop_front()
            .expect("unexpected GetMachineStatus call");
        async move { answer }
    }

    fn create_machine(
        &mut self,
        request: CreateMachineRequest,
    ) -> impl Future<Output = DriverResult<CreateMachineResponse>> + Send {
        self.events.push(Event::CreateMachine {
            user_data: request.secret.get_str("userData").ok().map(str::to_owned),
        });
        let answer = self
            .create
            .pop_front()
            .expect("unexpected CreateMachine call");
        async move { answer }
    }

    fn initialize_machine(
        &mut self,
        request: InitializeMachineRequest,
    ) -> impl Future<Output = DriverResult<InitializeMachineResponse>> + Send {
        self.events.push(Event::InitializeMachine {
            provider_id: request.machine.spec.provider_id.clone(),
        });
        let answer = self
            .initialize
            .pop_front()
            .expect("unexpected InitializeMachine call");
        async move { answer }
    }

    fn delete_machine(
        &mut self,
        request: DeleteMachineRequest,
    ) -> impl Future<Output = DriverResult<DeleteMachineResponse>> + Send {
        self.events.push(Event::DeleteMachine {
            name: request.machine.name().to_owned(),
            provider_id: request.machine.spec.provider_id.clone(),
        });
        let answer = self
            .delete
            .pop_front()
            .expect("unexpected DeleteMachine call");
        async move { answer }
    }

    fn update_machine(
        &mut self,
        machine: &Machine,
    ) -> impl Future<Output = WriteResult<Machine>> + Send {
        self.events.push(Event::UpdateMachine(machine.clone()));
        let mut stored = machine.clone();
        bump(&mut stored.metadata);
        let result = next_write(&mut self.machine_updates).map(|()| stored);
        async move { result }
    }

    fn update_machine_status(
        &mut self,
        machine: &Machine,
    ) -> impl Future<Output = WriteResult<Machine>> + Send {
        self.events
            .push(Event::UpdateMachineStatus(machine.clone()));
        let mut stored = machine.clone();
        bump(&mut stored.metadata);
        let result = next_write(&mut self.status_updates).map(|()| stored);
        async move { result }
    }

    fn ensure_bootstrap_token(
        &mut self,
        _machine_name: &str,
        _expiration: Timestamp,
    ) -> impl Future<Output = Result<String, String>> + Send {
        self.events.push(Event::EnsureToken);
        let token = self.token.clone();
        async move { token }
    }

    fn delete_bootstrap_token(
        &mut self,
        _machine_name: &str,
    ) -> impl Future<Output = Result<(), String>> + Send {
        self.events.push(Event::DeleteToken);
        async { Ok(()) }
    }

    fn update_node(&mut self, node: &Node) -> impl Future<Output = WriteResult<Node>> + Send {
        self.events.push(Event::UpdateNode(node.clone()));
        let stored = node.clone();
        let result = next_write(&mut self.node_updates).map(|()| stored);
        async move { result }
    }

    fn update_node_status(
        &mut self,
        node: &Node,
    ) -> impl Future<Output = WriteResult<Node>> + Send {
        self.events.push(Event::UpdateNodeStatus(node.clone()));
        let stored = node.clone();
        let result = next_write(&mut self.node_status_updates).map(|()| stored);
        async move { result }
    }

    fn cordon_node(&mut self, name: &str) -> impl Future<Output = Result<(), String>> + Send {
        self.events.push(Event::Cordon(name.to_owned()));
        let result = self.cordon.clone();
        async move { result }
    }

    fn drain_node(
        &mut self,
        name: &str,
        policy: &DrainPolicy,
    ) -> impl Future<Output = Result<(), String>> + Send {
        self.events
            .push(Event::Drain(name.to_owned(), policy.clone()));
        let result = self.drain.clone();
        async move { result }
    }

    fn live_volume_attachments(
        &mut self,
        node: &str,
    ) -> impl Future<Output = Result<Vec<String>, String>> + Send {
        self.events
            .push(Event::ListVolumeAttachments(node.to_owned()));
        let result = self.live_volume_attachments.clone();
        async move { result }
    }

    fn delete_volume_attachment(
        &mut self,
        name: &str,
    ) -> impl Future<Output = Result<(), String>> + Send {
        self.events
            .push(Event::DeleteVolumeAttachment(name.to_owned()));
        async { Ok(()) }
    }

    fn remove_node_finalizer(
        &mut self,
        node: &str,
    ) -> impl Future<Output = Result<(), String>> + Send {
        self.events
            .push(Event::RemoveNodeFinalizer(node.to_owned()));
        let result = self.remove_node_finalizer.clone();
        async move { result }
    }

    fn delete_node(&mut self, node: &str) -> impl Future<Output = WriteResult<()>> + Send {
        self.events.push(Event::DeleteNode(node.to_owned()));
        let result = self.delete_node.clone();
        async move { result }
    }

    fn acquire_group_permit(&mut self, group: &str) -> impl Future<Output = bool> + Send {
        self.events.push(Event::AcquirePermit(group.to_owned()));
        let permit = self.permit;
        async move { permit }
    }

    fn release_group_permit(&mut self, group: &str) {
        self.events.push(Event::ReleasePermit(group.to_owned()));
    }

    fn await_failed_mark(&mut self, machine_name: &str) -> impl Future<Output = ()> + Send {
        self.events
            .push(Event::AwaitFailedMark(machine_name.to_owned()));
        async {}
    }

    fn enqueue_machine_class(&mut self, name: &str) {
        self.events.push(Event::EnqueueClass(name.to_owned()));
    }

    fn enqueue_termination(&mut self, _machine: &Machine) {
        self.events.push(Event::EnqueueTermination);
    }

    fn requeue_also(&mut self, retry: Retry) {
        self.events.push(Event::RequeueAlso(retry));
    }

    fn creation_started(&mut self) {
        self.events.push(Event::CreationStarted);
    }

    fn observe(&mut self, observation: Observation) {
        self.events.push(Event::Observe(observation));
    }
}

/// Write failures for scripts.
pub fn conflict() -> WriteResult<()> {
    Err(WriteError::Conflict)
}

pub fn write_failure(text: &str) -> WriteResult<()> {
    Err(WriteError::Other(text.into()))
}
