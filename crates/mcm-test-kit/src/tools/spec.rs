//! What each tool is: its wrapper module, the module that pins its version, the package
//! to build, build tags, version stamps and the sanity check run after a build.

/// One Go binary of the plane.
#[derive(Debug)]
pub(crate) struct ToolSpec {
    /// Binary name, also the wrapper module's directory under `tools/`.
    pub name: &'static str,
    /// The module whose `require` line in the wrapper's go.mod pins the version.
    pub module: &'static str,
    /// The main package to build.
    pub package: &'static str,
    /// `-tags` (upstream's release tags where they have any).
    pub tags: &'static [&'static str],
    /// `-X` stamps as upstream's release builds set them, given the version.
    pub stamps: fn(&str) -> Vec<String>,
    /// Arguments of the post-build sanity run; it must exit 0.
    pub sanity_args: &'static [&'static str],
    /// Text the sanity run must print (stdout or stderr), given the version.
    pub sanity_expect: fn(&str) -> String,
}

pub(crate) const KUBE_APISERVER: ToolSpec = ToolSpec {
    name: "kube-apiserver",
    module: "k8s.io/kubernetes",
    package: "k8s.io/kubernetes/cmd/kube-apiserver",
    tags: &["selinux", "notest", "grpcnotrace"],
    stamps: kubernetes_stamps,
    sanity_args: &["--version"],
    sanity_expect: |version| format!("Kubernetes {version}"),
};

pub(crate) const ETCD: ToolSpec = ToolSpec {
    name: "etcd",
    module: "go.etcd.io/etcd/server/v3",
    package: "go.etcd.io/etcd/server/v3",
    tags: &[],
    stamps: |_| Vec::new(),
    sanity_args: &["--version"],
    sanity_expect: |version| format!("etcd Version: {}", version.trim_start_matches('v')),
};

pub(crate) const MACHINE_CONTROLLER_MANAGER: ToolSpec = ToolSpec {
    name: "machine-controller-manager",
    module: "github.com/gardener/machine-controller-manager",
    package: "github.com/gardener/machine-controller-manager/cmd/machine-controller-manager",
    tags: &[],
    stamps: |version| {
        vec![format!(
            "github.com/gardener/machine-controller-manager/pkg/version.Version={version}"
        )]
    },
    sanity_args: &["--help"],
    sanity_expect: |_| "--machine-safety-overshooting-period".to_string(),
};

/// Kubernetes' release builds stamp these (hack/lib/version.sh); without them
/// `--version` and `/version` say `v0.0.0-master`.
fn kubernetes_stamps(version: &str) -> Vec<String> {
    let mut parts = version.trim_start_matches('v').split('.');
    let major = parts.next().unwrap_or_default().to_string();
    let minor = parts.next().unwrap_or_default().to_string();
    let mut stamps = Vec::new();
    for package in [
        "k8s.io/component-base/version",
        "k8s.io/client-go/pkg/version",
    ] {
        stamps.push(format!("{package}.gitVersion={version}"));
        stamps.push(format!("{package}.gitMajor={major}"));
        stamps.push(format!("{package}.gitMinor={minor}"));
        stamps.push(format!("{package}.gitTreeState=clean"));
    }
    stamps
}

/// The version `go_mod` requires for `module`, from its `require` lines.
pub(crate) fn required_version(go_mod: &str, module: &str) -> Option<String> {
    go_mod.lines().find_map(|line| {
        let line = line.split("//").next().unwrap_or("").trim();
        let line = line.strip_prefix("require").map(str::trim).unwrap_or(line);
        let mut tokens = line.split_whitespace();
        (tokens.next() == Some(module))
            .then(|| tokens.next().map(str::to_string))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_versions_in_blocks_and_single_lines_and_ignores_others() {
        let go_mod = "module x\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes v1.34.4\n\
                      require (\n\tgo.etcd.io/etcd/server/v3 v3.6.14 // indirect\n\
                      \tgo.etcd.io/etcd/server/v3extra v9.9.9\n)\n\
                      replace k8s.io/api => k8s.io/api v0.34.4\n";
        assert_eq!(
            required_version(go_mod, "k8s.io/kubernetes").as_deref(),
            Some("v1.34.4")
        );
        assert_eq!(
            required_version(go_mod, "go.etcd.io/etcd/server/v3").as_deref(),
            Some("v3.6.14")
        );
        assert_eq!(required_version(go_mod, "k8s.io/api"), None);
        assert_eq!(required_version(go_mod, "missing"), None);
    }

    #[test]
    fn kubernetes_stamps_carry_major_and_minor() {
        let stamps = kubernetes_stamps("v1.34.4");
        assert!(stamps.contains(&"k8s.io/component-base/version.gitVersion=v1.34.4".to_string()));
        assert!(stamps.contains(&"k8s.io/component-base/version.gitMinor=34".to_string()));
    }

    #[test]
    fn pinned_versions_are_readable_from_the_committed_wrapper_modules() {
        let root = crate::repo_root::repo_root().unwrap();
        for spec in [&KUBE_APISERVER, &ETCD, &MACHINE_CONTROLLER_MANAGER] {
            let go_mod =
                std::fs::read_to_string(root.join("tools").join(spec.name).join("go.mod")).unwrap();
            let version = required_version(&go_mod, spec.module).unwrap_or_else(|| {
                panic!("{} not required in tools/{}/go.mod", spec.module, spec.name)
            });
            assert!(version.starts_with('v'), "{version}");
        }
    }
}
