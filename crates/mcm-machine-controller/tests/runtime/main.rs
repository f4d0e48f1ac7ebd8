//! The machine-controller runtime against real components: the shared kube-apiserver
//! and etcd of `mcm-test-kit`, real Nodes registered by the simulated cloud's node
//! agent, and (where stated) the real MCM binary. Nothing here is mocked.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test support code

mod sim_driver;
mod support;

mod clients;
mod freeze;
mod lifecycle;
mod replicas;
mod safety;
mod with_mcm;
