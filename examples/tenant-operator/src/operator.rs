//! The tenant operator: two controllers in one process.

use roperator_core::prelude::*;

use crate::{isolation, tenant};

/// The operator's name, in the user agent of every request it makes.
pub const OPERATOR_NAME: &str = "tenant-operator";

/// Where `tenant-defaults` is looked for unless told otherwise.
pub const DEFAULT_DEFAULTS_NAMESPACE: &str = "default";

// ANCHOR: operator
/// The tenant operator on `client`: the Tenant controller (reading `tenant-defaults` in
/// `defaults_namespace`) and the isolation decorator, sharing one client, one leadership gate,
/// one metrics server, one shutdown and the watch of NetworkPolicies both manage. Set its
/// metrics address, gate and shutdown signal, then run it.
///
/// ```no_run
/// # async fn example() -> Result<(), roperator_core::Error> {
/// let client = kube::Client::try_default().await.expect("a cluster");
/// let operator = tenant_operator::operator(client, "default")
///     .with_shutdown_signal(async { let _ = tokio::signal::ctrl_c().await; });
/// operator.run().await
/// # }
/// ```
pub fn operator(client: kube::Client, defaults_namespace: &str) -> Operator {
    let namespace = defaults_namespace.to_string();
    Operator::new(OPERATOR_NAME, client)
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_controller(
            tenant::tenant_config(defaults_namespace),
            move |request: &SyncRequest| tenant::sync(request, &namespace),
        )
        .with_controller(isolation::isolation_config(), isolation::sync)
}
// ANCHOR_END: operator
