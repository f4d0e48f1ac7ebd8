//! §10.1 Machine-pass gating (G1–G11).

use mcm_api::v1alpha1::MachinePhase;
use mcm_api::well_known::finalizers;
use mcm_machine_controller::Retry;
use mcm_machine_controller::decide::lookup::Lookup;

use crate::support::*;

rows! {
    g1_missing_machine_is_dropped: World::default(), machine_pass_missing() => |ran| {
        assert_eq!(ran.retry, Retry::Never);
        assert!(ran.events.is_empty());
    }

    g2_missing_finalizer_is_added_and_rate_limited: World::default(), machine_pass({
        let mut m = machine();
        m.metadata.finalizers = None;
        m
    }) => |ran| {
        assert_eq!(ran.retry, Retry::RateLimited);
        let writes = ran.machine_writes();
        assert_eq!(writes.len(), 1);
        assert!(writes[0].has_finalizer(finalizers::MACHINE_CONTROLLER_MANAGER));
        assert!(ran.driver_calls().is_empty());
    }

    g2_failed_finalizer_write_is_also_rate_limited: World {
        machine_updates: [write_failure("boom")].into(),
        frozen: true,
        ..World::default()
    }, machine_pass({
        let mut m = machine();
        m.metadata.finalizers = Some(vec![]);
        m
    }) => |ran| {
        assert_eq!(ran.retry, Retry::RateLimited);
        assert_eq!(ran.machine_writes().len(), 1);
    }

    g3_deleting_machine_goes_to_the_termination_queue: World::default(), machine_pass({
        let mut m = created_machine(MachinePhase::Running);
        m.metadata.deletion_timestamp = Some(ago(0));
        m
    }) => |ran| {
        assert_eq!(ran.retry, Retry::Never);
        assert_eq!(ran.events, [Event::EnqueueTermination]);
    }

    g3_deleting_machine_inside_creation_stays_in_the_machine_pass: World {
        creation_in_progress: true,
        ..World::default()
    }.gms(err(mcm_api::Code::NotFound, "none")).create(create_ok(MACHINE, PROVIDER_ID))
        .initialize(err(mcm_api::Code::Unimplemented, "")), machine_pass({
        let mut m = machine();
        m.metadata.deletion_timestamp = Some(ago(0));
        m
    }) => |ran| {
        assert!(!ran.did(&Event::EnqueueTermination));
        assert_eq!(ran.driver_calls(), ["GetMachineStatus", "CreateMachine", "InitializeMachine"]);
    }

    g4_frozen_controller_skips_non_deleting_machines: World { frozen: true, ..World::default() },
    machine_pass(created_machine(MachinePhase::Unknown)) => |ran| {
        assert_eq!(ran.retry, Retry::Long);
        assert!(ran.events.is_empty());
    }

    g5_empty_class_reference_waits_long: World::default(), machine_pass({
        let mut m = machine();
        m.spec.class.kind = String::new();
        m
    }) => |ran| {
        assert_eq!(ran.retry, Retry::Long);
        assert!(ran.events.is_empty());
    }

    g5_empty_class_name_waits_long: World::default(), machine_pass({
        let mut m = machine();
        m.spec.class.name = String::new();
        m
    }) => |ran| {
        assert_eq!(ran.retry, Retry::Long);
    }

    g6_missing_class_waits_long: World { class: Lookup::NotFound, ..World::default() },
    machine_pass(machine()) => |ran| {
        assert_eq!(ran.retry, Retry::Long);
        assert!(ran.events.is_empty());
    }

    g7_class_without_finalizer_is_enqueued_and_waits_short: World {
        class: Lookup::Found({
            let mut c = class();
            c.metadata.finalizers = None;
            c
        }),
        ..World::default()
    }, machine_pass(machine()) => |ran| {
        assert_eq!(ran.retry, Retry::Short);
        assert_eq!(ran.events, [Event::EnqueueClass(CLASS.into())]);
    }

    g8_incomplete_node_template_waits_short: World {
        class: Lookup::Found({
            let mut c = class();
            c.node_template = Some(mcm_api::v1alpha1::NodeTemplate {
                instance_type: "m5".into(),
                region: "r".into(),
                zone: "z".into(),
                ..Default::default()
            });
            c
        }),
        ..World::default()
    }, machine_pass(machine()) => |ran| {
        assert_eq!(ran.retry, Retry::Short);
        assert!(ran.driver_calls().is_empty());
    }

    g9_missing_secret_is_empty_data_and_creation_stops_at_user_data: World {
        secrets: Default::default(),
        ..World::default()
    }, machine_pass(machine()) => |ran| {
        // Treated as empty data: the pass reaches the creation flow, which needs
        // userData (C1).
        assert!(ran.did(&Event::CreationStarted));
        assert_eq!(ran.retry, Retry::Short);
        assert!(ran.driver_calls().is_empty());
    }

    g10_created_machine_with_quiet_node_steps_waits_long: World::default().with_node({
        let mut n = ready_node();
        n.metadata.labels = Some([(mcm_api::well_known::node_labels::MACHINE_NAME.to_owned(), MACHINE.to_owned())].into());
        n.metadata.annotations = Some([("x".to_owned(), "y".to_owned())].into());
        n
    }), machine_pass({
        let mut m = created_machine(MachinePhase::Running);
        m.status.conditions = vec![condition("Ready", "True")];
        m
    }) => |ran| {
        assert_eq!(ran.retry, Retry::Long);
        assert!(ran.events.is_empty(), "{:#?}", ran.events);
    }

    g11_unreadable_secret_waits_long: World {
        secrets: [(SECRET.to_owned(), Lookup::Failed("etcd timeout".into()))].into(),
        ..World::default()
    }, machine_pass(machine()) => |ran| {
        assert_eq!(ran.retry, Retry::Long);
        assert!(ran.events.is_empty());
    }
}
