//! Table-driven tests of the flags against contract 01 §5.1.

use super::*;

fn parse(args: &[&str]) -> Options {
    let mut all = vec!["machine-controller"];
    all.extend_from_slice(args);
    Options::parse_args(all).unwrap_or_else(|err| panic!("{args:?} should parse: {err}"))
}

fn parse_err(args: &[&str]) -> String {
    let mut all = vec!["machine-controller"];
    all.extend_from_slice(args);
    match Options::parse_args(all) {
        Ok(options) => panic!("{args:?} should be rejected, parsed as {options:?}"),
        Err(err) => err.to_string(),
    }
}

fn problems(options: &Options) -> Vec<&'static str> {
    match options.validate() {
        Ok(()) => Vec::new(),
        Err(err) => err.problems.iter().map(|p| p.flag).collect(),
    }
}

type DurationField = fn(&Options) -> GoDuration;

/// Every duration flag with its contract default (Go's printing).
const DURATION_FLAGS: &[(&str, DurationField, &str)] = &[
    (
        "machine-creation-timeout",
        |o| o.machine_creation_timeout,
        "20m0s",
    ),
    (
        "machine-health-timeout",
        |o| o.machine_health_timeout,
        "10m0s",
    ),
    (
        "machine-drain-timeout",
        |o| o.machine_drain_timeout,
        "2h0m0s",
    ),
    (
        "machine-inplace-update-timeout",
        |o| o.machine_inplace_update_timeout,
        "20m0s",
    ),
    (
        "machine-pv-detach-timeout",
        |o| o.machine_pv_detach_timeout,
        "2m0s",
    ),
    (
        "machine-pv-reattach-timeout",
        |o| o.machine_pv_reattach_timeout,
        "1m30s",
    ),
    (
        "machine-preserve-timeout",
        |o| o.machine_preserve_timeout,
        "96h0m0s",
    ),
    (
        "resource-exhausted-retry",
        |o| o.resource_exhausted_retry,
        "10m0s",
    ),
    (
        "machine-safety-orphan-vms-period",
        |o| o.machine_safety_orphan_vms_period,
        "15m0s",
    ),
    (
        "machine-safety-apiserver-statuscheck-period",
        |o| o.machine_safety_apiserver_statuscheck_period,
        "1m0s",
    ),
    (
        "machine-safety-apiserver-statuscheck-timeout",
        |o| o.machine_safety_apiserver_statuscheck_timeout,
        "30s",
    ),
    (
        "leader-elect-lease-duration",
        |o| o.leader_elect_lease_duration,
        "15s",
    ),
    (
        "leader-elect-renew-deadline",
        |o| o.leader_elect_renew_deadline,
        "10s",
    ),
    (
        "leader-elect-retry-period",
        |o| o.leader_elect_retry_period,
        "2s",
    ),
    ("log-flush-frequency", |o| o.log_flush_frequency, "5s"),
    ("min-resync-period", |o| o.min_resync_period, "12h0m0s"),
    (
        "controller-start-interval",
        |o| o.controller_start_interval,
        "0s",
    ),
];

#[test]
fn defaults_equal_the_contract() {
    let o = parse(&[]);
    assert_eq!(
        o,
        Options::default(),
        "an empty command line gives Options::default()"
    );
    for (flag, field, expected) in DURATION_FLAGS {
        assert_eq!(field(&o).to_string(), *expected, "default of --{flag}");
    }
    let scalars: &[(&str, String, &str)] = &[
        ("port", o.port.to_string(), "10259"),
        ("address", o.address.to_string(), "0.0.0.0"),
        ("cloud-provider", o.cloud_provider.clone(), ""),
        ("concurrent-syncs", o.concurrent_syncs.to_string(), "50"),
        ("profiling", o.profiling.to_string(), "false"),
        (
            "contention-profiling",
            o.contention_profiling.to_string(),
            "false",
        ),
        ("target-kubeconfig", o.target_kubeconfig.clone(), ""),
        ("control-kubeconfig", o.control_kubeconfig.clone(), ""),
        ("namespace", o.namespace.clone(), "default"),
        (
            "kube-api-content-type",
            o.kube_api_content_type.clone(),
            "application/vnd.kubernetes.protobuf",
        ),
        ("kube-api-qps", o.kube_api_qps.to_string(), "20"),
        ("kube-api-burst", o.kube_api_burst.to_string(), "30"),
        (
            "machine-max-evict-retries",
            o.machine_max_evict_retries.to_string(),
            "360",
        ),
        (
            "node-conditions",
            o.node_conditions.clone(),
            "KernelDeadlock,ReadonlyFilesystem,DiskPressure,NetworkUnavailable",
        ),
        (
            "bootstrap-token-auth-extra-groups",
            o.bootstrap_token_auth_extra_groups.clone(),
            "",
        ),
        ("v", o.v.to_string(), "0"),
        ("vmodule", o.vmodule.clone(), ""),
        ("leader-elect", o.leader_elect.to_string(), "true"),
        (
            "leader-elect-resource-lock",
            o.leader_elect_resource_lock.clone(),
            "leases",
        ),
    ];
    for (flag, actual, expected) in scalars {
        assert_eq!(actual, expected, "default of --{flag}");
    }
    o.validate().expect("the defaults are valid");
}

#[test]
fn every_mcm_flag_is_accepted() {
    // Contract 01 §5.1, in its order: each flag with a non-default value.
    let o = parse(&[
        "--port=10300",
        "--address=127.0.0.1",
        "--cloud-provider=aws",
        "--concurrent-syncs=5",
        "--min-resync-period=1h",
        "--profiling",
        "--contention-profiling=true",
        "--target-kubeconfig=/t",
        "--control-kubeconfig=/c",
        "--namespace=shoot--a",
        "--kube-api-content-type=application/json",
        "--kube-api-qps=7.5",
        "--kube-api-burst=9",
        "--controller-start-interval=1s",
        "--machine-creation-timeout=21m",
        "--machine-health-timeout=11m",
        "--machine-drain-timeout=5m",
        "--machine-inplace-update-timeout=22m",
        "--machine-max-evict-retries=3",
        "--machine-pv-detach-timeout=3m",
        "--machine-pv-reattach-timeout=4m",
        "--machine-safety-apiserver-statuscheck-timeout=20s",
        "--machine-preserve-timeout=1h",
        "--machine-safety-orphan-vms-period=30m",
        "--machine-safety-apiserver-statuscheck-period=2m",
        "--node-conditions=KernelDeadlock",
        "--bootstrap-token-auth-extra-groups=a,b",
        "--resource-exhausted-retry=1m",
        "--v=3",
        "--vmodule=foo=2",
        "--log-flush-frequency=1s",
        "--leader-elect=false",
        "--leader-elect-lease-duration=30s",
        "--leader-elect-renew-deadline=20s",
        "--leader-elect-retry-period=3s",
        "--leader-elect-resource-lock=leases",
    ]);
    assert_eq!(o.port, 10300);
    assert_eq!(o.address.to_string(), "127.0.0.1");
    assert_eq!(o.cloud_provider, "aws");
    assert_eq!(o.concurrent_syncs, 5);
    assert_eq!(o.min_resync_period.to_string(), "1h0m0s");
    assert!(o.profiling && o.contention_profiling);
    assert_eq!(
        (o.target_kubeconfig.as_str(), o.control_kubeconfig.as_str()),
        ("/t", "/c")
    );
    assert_eq!(o.namespace, "shoot--a");
    assert_eq!(o.kube_api_content_type, "application/json");
    assert_eq!((o.kube_api_qps, o.kube_api_burst), (7.5, 9));
    assert_eq!(o.controller_start_interval.to_string(), "1s");
    assert_eq!(o.machine_creation_timeout.to_string(), "21m0s");
    assert_eq!(o.machine_health_timeout.to_string(), "11m0s");
    assert_eq!(o.machine_drain_timeout.to_string(), "5m0s");
    assert_eq!(o.machine_inplace_update_timeout.to_string(), "22m0s");
    assert_eq!(o.machine_max_evict_retries, 3);
    assert_eq!(o.machine_pv_detach_timeout.to_string(), "3m0s");
    assert_eq!(o.machine_pv_reattach_timeout.to_string(), "4m0s");
    assert_eq!(
        o.machine_safety_apiserver_statuscheck_timeout.to_string(),
        "20s"
    );
    assert_eq!(o.machine_preserve_timeout.to_string(), "1h0m0s");
    assert_eq!(o.machine_safety_orphan_vms_period.to_string(), "30m0s");
    assert_eq!(
        o.machine_safety_apiserver_statuscheck_period.to_string(),
        "2m0s"
    );
    assert_eq!(o.node_conditions, "KernelDeadlock");
    assert_eq!(o.bootstrap_token_auth_extra_groups, "a,b");
    assert_eq!(o.resource_exhausted_retry.to_string(), "1m0s");
    assert_eq!((o.v, o.vmodule.as_str()), (3, "foo=2"));
    assert_eq!(o.log_flush_frequency.to_string(), "1s");
    assert!(!o.leader_elect);
    assert_eq!(o.leader_elect_lease_duration.to_string(), "30s");
    assert_eq!(o.leader_elect_renew_deadline.to_string(), "20s");
    assert_eq!(o.leader_elect_retry_period.to_string(), "3s");
    o.validate().unwrap();
}

#[test]
fn duration_flags_parse_go_forms() {
    let forms: &[(&str, i64)] = &[
        ("20m", 20 * 60 * 1_000_000_000),
        ("1m30s", 90 * 1_000_000_000),
        ("2h0m0s", 2 * 3600 * 1_000_000_000),
        ("300ms", 300_000_000),
        (".5s", 500_000_000),
        ("1.5h", 5400 * 1_000_000_000),
        ("0", 0),
        ("+5s", 5_000_000_000),
        ("-5s", -5_000_000_000),
        ("1µs", 1_000),
    ];
    for (flag, field, _) in DURATION_FLAGS {
        for (text, nanos) in forms {
            let with_equals = parse(&[&format!("--{flag}={text}")]);
            assert_eq!(field(&with_equals).as_nanos(), *nanos, "--{flag}={text}");
            let separate = parse(&[&format!("--{flag}"), text]);
            assert_eq!(field(&separate).as_nanos(), *nanos, "--{flag} {text}");
        }
    }
}

#[test]
fn invalid_values_name_the_flag() {
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["--machine-drain-timeout=5x"],
            "--machine-drain-timeout",
            "invalid Go duration",
        ),
        (
            &["--machine-drain-timeout=1d"],
            "--machine-drain-timeout",
            "invalid Go duration",
        ),
        (
            &["--machine-creation-timeout=20 m"],
            "--machine-creation-timeout",
            "invalid Go duration",
        ),
        (
            &["--leader-elect-retry-period="],
            "--leader-elect-retry-period",
            "empty value",
        ),
        (&["--port=http"], "--port", "invalid digit"),
        (&["--port=99999999999"], "--port", "is not in"),
        (&["--kube-api-qps=fast"], "--kube-api-qps", "fast"),
        (
            &["--concurrent-syncs=1.5"],
            "--concurrent-syncs",
            "invalid digit",
        ),
        (&["--address=localhost"], "--address", "not an IP address"),
        (&["--address=10.0.0.1:80"], "--address", "not an IP address"),
        (&["--v=11"], "--v", "11"),
        (&["--v=-1"], "--v", "-1"),
        (&["--leader-elect=maybe"], "--leader-elect", "not a boolean"),
        (&["--profiling=yes"], "--profiling", "not a boolean"),
        (
            &["--no-such-flag=1"],
            "--no-such-flag",
            "unexpected argument",
        ),
    ];
    for (args, flag, detail) in cases {
        let message = parse_err(args);
        assert!(message.contains(flag), "{args:?}: {message}");
        assert!(message.contains(detail), "{args:?}: {message}");
    }
}

#[test]
fn bool_flags_take_go_forms() {
    let cases: &[(&[&str], bool)] = &[
        (&[], true),
        (&["--leader-elect"], true),
        (&["--leader-elect=true"], true),
        (&["--leader-elect=false"], false),
        (&["--leader-elect=0"], false),
        (&["--leader-elect=1"], true),
        (&["--leader-elect=f"], false),
        (&["--leader-elect=T"], true),
        (&["--leader-elect=FALSE"], false),
        (&["--leader-elect=True"], true),
        (&["--leader-elect=false", "--leader-elect"], true),
        (&["--leader-elect", "--leader-elect=False"], false),
    ];
    for (args, expected) in cases {
        assert_eq!(parse(args).leader_elect, *expected, "{args:?}");
    }
    assert!(parse(&["--profiling"]).profiling);
    assert!(!parse(&["--profiling=false"]).profiling);
    // As with pflag, a boolean takes its value only after `=`.
    let message = parse_err(&["--leader-elect", "false"]);
    assert!(message.contains("false"), "{message}");
}

#[test]
fn underscores_in_flag_names_are_dashes() {
    let underscored = parse(&[
        "--machine_creation_timeout=5m",
        "--leader_elect=false",
        "--kube_api_qps",
        "3",
        "--namespace=my_ns",
    ]);
    let dashed = parse(&[
        "--machine-creation-timeout=5m",
        "--leader-elect=false",
        "--kube-api-qps",
        "3",
        "--namespace=my_ns",
    ]);
    assert_eq!(underscored, dashed);
    assert_eq!(
        underscored.namespace, "my_ns",
        "values keep their underscores"
    );

    let normalised = normalize_flag_names(["prog_name", "--a_b=c_d", "-v", "x_y", "--", "--e_f"]);
    let expected: Vec<OsString> = ["prog_name", "--a-b=c_d", "-v", "x_y", "--", "--e_f"]
        .into_iter()
        .map(OsString::from)
        .collect();
    assert_eq!(normalised, expected);
}

#[test]
fn later_flags_override_earlier_ones() {
    let o = parse(&[
        "--v=2",
        "--v=4",
        "--namespace=a",
        "--namespace",
        "b",
        "-v",
        "5",
    ]);
    assert_eq!((o.v, o.namespace.as_str()), (5, "b"));
}

#[test]
fn klog_verbosity_forms() {
    for (args, level) in [
        (&["--v=3"][..], 3u8),
        (&["--v", "4"][..], 4),
        (&["-v", "2"][..], 2),
        (&["-v=6"][..], 6),
        (&["-v7"][..], 7),
    ] {
        assert_eq!(parse(args).v, level, "{args:?}");
    }
}

#[test]
fn validation_rules_each_name_their_flag() {
    let base = Options::default();
    type Edit = fn(&mut Options);
    let rules: &[(&str, Edit, &str)] = &[
        ("port below 1", |o| o.port = 0, "--port"),
        ("port above 65535", |o| o.port = 65536, "--port"),
        (
            "concurrent syncs zero",
            |o| o.concurrent_syncs = 0,
            "--concurrent-syncs",
        ),
        (
            "negative resync",
            |o| o.min_resync_period = GoDuration::from_secs(-1),
            "--min-resync-period",
        ),
        (
            "contention without profiling",
            |o| o.contention_profiling = true,
            "--contention-profiling",
        ),
        (
            "content type",
            |o| o.kube_api_content_type = "not a type".into(),
            "--kube-api-content-type",
        ),
        ("qps zero", |o| o.kube_api_qps = 0.0, "--kube-api-qps"),
        ("qps NaN", |o| o.kube_api_qps = f32::NAN, "--kube-api-qps"),
        (
            "burst negative",
            |o| o.kube_api_burst = -1,
            "--kube-api-burst",
        ),
        (
            "start interval negative",
            |o| o.controller_start_interval = GoDuration::from_secs(-1),
            "--controller-start-interval",
        ),
        (
            "creation timeout negative",
            |o| o.machine_creation_timeout = GoDuration::from_secs(-1),
            "--machine-creation-timeout",
        ),
        (
            "health timeout negative",
            |o| o.machine_health_timeout = GoDuration::from_secs(-1),
            "--machine-health-timeout",
        ),
        (
            "drain timeout negative",
            |o| o.machine_drain_timeout = GoDuration::from_secs(-1),
            "--machine-drain-timeout",
        ),
        (
            "in-place timeout negative",
            |o| o.machine_inplace_update_timeout = GoDuration::from_secs(-1),
            "--machine-inplace-update-timeout",
        ),
        (
            "evict retries negative",
            |o| o.machine_max_evict_retries = -1,
            "--machine-max-evict-retries",
        ),
        (
            "pv detach negative",
            |o| o.machine_pv_detach_timeout = GoDuration::from_secs(-1),
            "--machine-pv-detach-timeout",
        ),
        (
            "pv reattach negative",
            |o| o.machine_pv_reattach_timeout = GoDuration::from_secs(-1),
            "--machine-pv-reattach-timeout",
        ),
        (
            "orphan period negative",
            |o| o.machine_safety_orphan_vms_period = GoDuration::from_secs(-1),
            "--machine-safety-orphan-vms-period",
        ),
        (
            "status check period shorter than timeout",
            |o| o.machine_safety_apiserver_statuscheck_period = GoDuration::from_secs(29),
            "--machine-safety-apiserver-statuscheck-period",
        ),
        (
            "preserve negative",
            |o| o.machine_preserve_timeout = GoDuration::from_secs(-1),
            "--machine-preserve-timeout",
        ),
        (
            "no target without control",
            |o| o.target_kubeconfig = TARGET_KUBECONFIG_DISABLED.into(),
            "--control-kubeconfig",
        ),
        (
            "resource exhausted negative",
            |o| o.resource_exhausted_retry = GoDuration::from_secs(-1),
            "--resource-exhausted-retry",
        ),
        ("empty namespace", |o| o.namespace.clear(), "--namespace"),
        (
            "lock kind",
            |o| o.leader_elect_resource_lock = "endpoints".into(),
            "--leader-elect-resource-lock",
        ),
        (
            "lease not longer than renew deadline",
            |o| o.leader_elect_lease_duration = GoDuration::from_secs(10),
            "--leader-elect-lease-duration",
        ),
        (
            "renew deadline within 1.2 retry periods",
            |o| o.leader_elect_retry_period = GoDuration::from_secs(9),
            "--leader-elect-renew-deadline",
        ),
        (
            "retry period zero",
            |o| o.leader_elect_retry_period = GoDuration::ZERO,
            "--leader-elect-retry-period",
        ),
    ];
    for (rule, edit, flag) in rules {
        let mut options = base.clone();
        edit(&mut options);
        let found = problems(&options);
        assert_eq!(found.first(), Some(flag), "rule {rule:?}: {found:?}");
        let message = options.validate().unwrap_err().to_string();
        assert!(message.contains(flag), "rule {rule:?}: {message}");
    }
}

#[test]
fn validation_reports_every_problem_and_the_fix() {
    let o = parse(&[
        "--port=0",
        "--concurrent-syncs=-2",
        "--machine-drain-timeout=-1m",
    ]);
    let err = o.validate().unwrap_err();
    assert_eq!(
        err.problems.iter().map(|p| p.flag).collect::<Vec<_>>(),
        ["--port", "--concurrent-syncs", "--machine-drain-timeout"]
    );
    let text = err.to_string();
    assert!(
        text.contains("--port: 0 is not a TCP port; use a value from 1 to 65535"),
        "{text}"
    );
    assert!(
        text.contains("--machine-drain-timeout: -1m0s is negative"),
        "{text}"
    );
}

#[test]
fn leader_checks_only_apply_with_leader_election() {
    let o = parse(&[
        "--leader-elect=false",
        "--leader-elect-resource-lock=configmaps",
    ]);
    o.validate().unwrap();
    let o = parse(&["--leader-elect-resource-lock=configmaps"]);
    assert_eq!(problems(&o), ["--leader-elect-resource-lock"]);
}

#[test]
fn statuscheck_period_equal_to_timeout_is_valid() {
    let o = parse(&[
        "--machine-safety-apiserver-statuscheck-period=30s",
        "--machine-safety-apiserver-statuscheck-timeout=30s",
    ]);
    o.validate().unwrap();
}

#[test]
fn no_target_with_control_kubeconfig_is_valid() {
    let o = parse(&["--target-kubeconfig=none", "--control-kubeconfig=/k"]);
    o.validate().unwrap();
    assert_eq!(o.controller_config().target, TargetMode::None);
    assert_eq!(o.target_source(), KubeconfigSource::Disabled);
    assert_eq!(o.control_source(), KubeconfigSource::File("/k".into()));
}

#[test]
fn media_types_as_go_parses_them() {
    let cases: &[(&str, bool)] = &[
        ("application/vnd.kubernetes.protobuf", true),
        ("application/json", true),
        ("application/json; charset=utf-8", true),
        ("text/plain;a=1;b=\"x y\"", true),
        ("text", true),
        ("APPLICATION/JSON", true),
        ("", false),
        ("/json", false),
        ("application/", false),
        ("application/json/x", false),
        ("not a type", false),
        ("text/plain; charset", false),
        ("text/plain; a=1; A=2", false),
        ("text/plain; a=\"open", false),
    ];
    for (text, ok) in cases {
        assert_eq!(check_media_type(text).is_ok(), *ok, "{text:?}");
    }
}

#[test]
fn negative_numbers_reach_validation() {
    let o = parse(&[
        "--port",
        "-1",
        "--machine-drain-timeout",
        "-5m",
        "--kube-api-burst=-3",
    ]);
    assert_eq!(o.port, -1);
    assert_eq!(o.machine_drain_timeout.to_string(), "-5m0s");
    assert_eq!(
        problems(&o),
        ["--port", "--kube-api-burst", "--machine-drain-timeout"]
    );
}

#[test]
fn controller_config_carries_the_flags() {
    let o = parse(&[
        "--namespace=ns1",
        "--machine-creation-timeout=21m",
        "--machine-health-timeout=11m",
        "--machine-drain-timeout=5m",
        "--machine-inplace-update-timeout=7m",
        "--machine-preserve-timeout=1h",
        "--machine-max-evict-retries=12",
        "--machine-pv-detach-timeout=3m",
        "--machine-pv-reattach-timeout=4m",
        "--node-conditions=A,B",
        "--bootstrap-token-auth-extra-groups=g",
        "--resource-exhausted-retry=0",
        "--machine-safety-orphan-vms-period=30m",
        "--machine-safety-apiserver-statuscheck-period=2m",
        "--machine-safety-apiserver-statuscheck-timeout=20s",
        "--target-kubeconfig=/t",
    ]);
    let c = o.controller_config();
    let m = |n: u64| std::time::Duration::from_secs(n * 60);
    assert_eq!(
        c,
        ControllerConfig {
            namespace: "ns1".into(),
            target: TargetMode::Cluster,
            creation_timeout: m(21),
            health_timeout: m(11),
            drain_timeout: m(5),
            inplace_update_timeout: m(7),
            preserve_timeout: m(60),
            max_evict_retries: 12,
            pv_detach_timeout: m(3),
            pv_reattach_timeout: m(4),
            node_conditions: "A,B".into(),
            bootstrap_token_auth_extra_groups: "g".into(),
            resource_exhausted_retry: std::time::Duration::ZERO,
            safety_orphan_vms_period: m(30),
            safety_apiserver_statuscheck_period: m(2),
            safety_apiserver_statuscheck_timeout: std::time::Duration::from_secs(20),
        }
    );
    assert_eq!(
        Options::default().controller_config(),
        ControllerConfig::default()
    );
}

#[test]
fn kubeconfig_sources() {
    let cases: &[(&str, &str, KubeconfigSource, KubeconfigSource)] = &[
        (
            "",
            "",
            KubeconfigSource::SameAsTarget,
            KubeconfigSource::InCluster,
        ),
        (
            "inClusterConfig",
            "/t",
            KubeconfigSource::InCluster,
            KubeconfigSource::File("/t".into()),
        ),
        (
            "/c",
            "none",
            KubeconfigSource::File("/c".into()),
            KubeconfigSource::Disabled,
        ),
    ];
    for (control, target, control_source, target_source) in cases {
        let o = Options {
            control_kubeconfig: (*control).into(),
            target_kubeconfig: (*target).into(),
            ..Options::default()
        };
        assert_eq!(&o.control_source(), control_source, "{control:?}");
        assert_eq!(&o.target_source(), target_source, "{target:?}");
    }
}

#[test]
fn http_address_joins_address_and_port() {
    let cases: &[(&[&str], Option<&str>)] = &[
        (&[], Some("0.0.0.0:10259")),
        (
            &["--address=127.0.0.1", "--port=8080"],
            Some("127.0.0.1:8080"),
        ),
        (&["--address=::1", "--port=1"], Some("[::1]:1")),
        (&["--port=0"], None),
        (&["--port=70000"], None),
    ];
    for (args, expected) in cases {
        let address = parse(args).http_address().map(|a| a.to_string());
        assert_eq!(address.as_deref(), *expected, "{args:?}");
    }
}

#[test]
fn to_args_parses_back() {
    let o = parse(&[
        "--control-kubeconfig=/c",
        "--namespace=x",
        "--kube-api-qps=2.5",
        "--machine-drain-timeout=90m",
        "--leader-elect=false",
        "--profiling",
        "--address=::1",
        "--v=4",
    ]);
    assert_eq!(Options::parse_args(o.to_args()).unwrap(), o);
    assert_eq!(
        Options::parse_args(Options::default().to_args()).unwrap(),
        Options::default()
    );
}

#[test]
fn help_reads_well() {
    let help = Options::command().render_long_help().to_string();
    for heading in [
        "Clusters:",
        "Machines:",
        "Timeouts:",
        "Safety:",
        "HTTP server:",
        "Leader election:",
        "Logging:",
        "Compatibility:",
    ] {
        assert!(
            help.contains(heading),
            "heading {heading:?} missing:\n{help}"
        );
    }
    for default in [
        "[default: 20m0s]",
        "[default: 2h0m0s]",
        "[default: 1m30s]",
        "[default: 96h0m0s]",
        "[default: 12h0m0s]",
        "[default: 10259]",
        "[default: leases]",
    ] {
        assert!(help.contains(default), "{default} missing:\n{help}");
    }
    for flag in [
        "--cloud-provider",
        "--controller-start-interval",
        "--kube-api-content-type",
        "--profiling",
        "--contention-profiling",
        "--min-resync-period",
        "--vmodule",
        "--log-flush-frequency",
    ] {
        let at = [" ", "["]
            .iter()
            .find_map(|next| help.find(&format!("      {flag}{next}")))
            .unwrap_or_else(|| panic!("{flag} missing"));
        let entry = &help[at + 6..];
        let end = entry.find("\n\n").unwrap_or(entry.len());
        assert!(
            entry[..end].contains("Accepted for compatibility; no effect"),
            "{flag} should say it has no effect:\n{}",
            &entry[..end]
        );
    }
    assert!(help.contains("--leader-elect[=<BOOL>]"), "{help}");
    assert!(help.contains("-v, --v <LEVEL>"), "{help}");
    assert!(
        help.starts_with("Machine controller of Gardener's"),
        "{help}"
    );
}

#[test]
fn help_is_an_exit_zero_error() {
    let err = Options::parse_args(["mc", "--help"]).unwrap_err();
    assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp);
    assert_eq!(err.exit_code(), 0);
    let err = Options::parse_args(["mc", "--port=x"]).unwrap_err();
    assert_eq!(err.exit_code(), 2);
}

mod provider {
    use super::*;

    #[derive(Debug, Parser)]
    #[command(name = "machine-controller-provider-x", args_override_self = true)]
    struct Cli {
        #[command(flatten)]
        mc: Options,
        /// The provider's own flag.
        #[arg(long, default_value = "eu-1")]
        cloud_region: String,
    }

    #[test]
    fn a_provider_adds_its_own_flags() {
        let cli = Cli::try_parse_from(normalize_flag_names([
            "p",
            "--cloud_region=us-2",
            "--machine-drain-timeout=5m",
            "--leader-elect=false",
            "--v=2",
            "--v=3",
        ]))
        .unwrap();
        assert_eq!(cli.cloud_region, "us-2");
        assert_eq!(cli.mc.machine_drain_timeout.to_string(), "5m0s");
        assert!(!cli.mc.leader_elect);
        assert_eq!(cli.mc.v, 3);
        let defaults = Cli::try_parse_from(["p"]).unwrap();
        assert_eq!(defaults.mc, Options::default());
        assert_eq!(defaults.cloud_region, "eu-1");

        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("--cloud-region"), "{help}");
        assert!(help.contains("Timeouts:"), "{help}");
    }
}
