//! Running the engine against the in-memory API server of `roperator-testkit` (feature
//! `testkit`): the same code path as in production, with the testkit's client.
//!
//! ```no_run
//! use std::time::Duration;
//! use roperator_core::prelude::*;
//! use roperator_core::testkit::{ApiServer, TestOperator};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let server = ApiServer::new();
//! let config = ControllerConfig::new("demo", k8s_types::core::v1::Namespace)
//!     .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace());
//! let operator = TestOperator::start(&server, config, |_req: &SyncRequest| {
//!     Ok::<_, Error>(SyncResponse::new())
//! });
//! operator.converge(Duration::from_secs(10)).await?;
//! operator.stop().await?;
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use roperator_testkit::{ApiServer, FaultRule};

use crate::config::ControllerConfig;
use crate::engine::Monitor;
use crate::error::Error;
use crate::handler::{AsyncHandler, Handler};
use crate::leader::LeaderGate;
use crate::operator::{DEFAULT_SERVER_ADDRESS, Operator};

/// The operator did not settle in time.
#[derive(Debug, thiserror::Error)]
#[error("the operator did not {what} within {within:?}")]
pub struct NotConverged {
    what: &'static str,
    within: Duration,
}

/// An operator running in the background against an [`ApiServer`].
pub struct TestOperator {
    monitor: Monitor,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), Error>>,
}

impl TestOperator {
    /// Starts an operator of one controller with a blocking handler (call inside a Tokio
    /// runtime), named after the controller.
    pub fn start(server: &ApiServer, config: ControllerConfig, handler: impl Handler) -> Self {
        Self::spawn(Operator::new(config.name(), server.client()).with_controller(config, handler))
    }

    /// Starts an operator of one controller with an async handler.
    pub fn start_async(
        server: &ApiServer,
        config: ControllerConfig,
        handler: impl AsyncHandler,
    ) -> Self {
        Self::spawn(
            Operator::new(config.name(), server.client()).with_async_controller(config, handler),
        )
    }

    /// Starts an operator of one controller with a blocking handler behind a leadership gate.
    pub fn start_with_gate(
        server: &ApiServer,
        config: ControllerConfig,
        handler: impl Handler,
        gate: Arc<dyn LeaderGate>,
    ) -> Self {
        Self::spawn(
            Operator::new(config.name(), server.client())
                .with_controller(config, handler)
                .with_leader_gate(gate),
        )
    }

    /// Starts an operator built by the caller (several controllers, any client, gate or
    /// handler flavour). The default metrics address is replaced by a free loopback port so
    /// that tests can run in parallel.
    pub fn spawn(operator: Operator) -> Self {
        let operator = if operator.server_address() == Some(DEFAULT_SERVER_ADDRESS) {
            operator.with_server_address(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        } else {
            operator
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let monitor = operator.monitor();
        let operator = operator.with_shutdown_signal(async move {
            let _ = stopped.await;
        });
        Self {
            monitor,
            stop: Some(stop),
            task: tokio::spawn(operator.run()),
        }
    }

    /// The running operator's monitor.
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// Waits until the caches are synced.
    pub async fn wait_ready(&self, within: Duration) -> Result<(), NotConverged> {
        tokio::time::timeout(within, self.monitor.wait_ready())
            .await
            .map_err(|_| NotConverged {
                what: "become ready",
                within,
            })
    }

    /// Waits until the operator is ready and has had nothing to do for a while (200 ms in a
    /// row): every parent synced, nothing queued, nothing in flight.
    pub async fn converge(&self, within: Duration) -> Result<(), NotConverged> {
        self.settle(within, Duration::from_millis(200)).await
    }

    /// Like [`converge`](Self::converge) with a chosen quiet period.
    pub async fn settle(&self, within: Duration, quiet: Duration) -> Result<(), NotConverged> {
        let monitor = self.monitor.clone();
        let wait = async move {
            monitor.wait_ready().await;
            let step = Duration::from_millis(10);
            let mut quiet_for = Duration::ZERO;
            while quiet_for < quiet {
                tokio::time::sleep(step).await;
                if monitor.is_idle() {
                    quiet_for += step;
                } else {
                    quiet_for = Duration::ZERO;
                }
            }
        };
        tokio::time::timeout(within, wait)
            .await
            .map_err(|_| NotConverged {
                what: "converge",
                within,
            })
    }

    /// Polls `condition` every 20 ms until it holds.
    pub async fn wait_until<F>(
        &self,
        within: Duration,
        mut condition: F,
    ) -> Result<(), NotConverged>
    where
        F: FnMut() -> bool,
    {
        let wait = async {
            while !condition() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(within, wait)
            .await
            .map_err(|_| NotConverged {
                what: "reach the expected state",
                within,
            })
    }

    /// Shuts the operator down gracefully and returns what [`Operator::run`] returned.
    pub async fn stop(mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(Error::Runtime(std::io::Error::other(e.to_string()))),
        }
    }

    /// `true` once the operator stopped (by itself, on an error).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for TestOperator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
