//! The user's code: [`Handler`] (blocking) and [`AsyncHandler`].

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;

use crate::leader::BoxFuture;
use crate::request::SyncRequest;
use crate::response::{FinalizeResponse, SyncResponse};

/// A blocking sync function: from a parent and its children to the desired children and status.
///
/// The engine calls it on a blocking thread (never on the async runtime), with a timeout, and
/// catches panics. It should be a pure function of the request: the engine calls it whenever
/// anything about the parent changes and on a timer, and expects the same answer for the same
/// input. Plain closures are handlers:
///
/// ```
/// use roperator_core::prelude::*;
/// use serde_json::json;
///
/// let handler = |req: &SyncRequest| -> Result<SyncResponse, Error> {
///     let parent = req.parent().json();
///     Ok(SyncResponse::new().with_child(&json!({
///         "apiVersion": "v1", "kind": "ConfigMap",
///         "metadata": { "name": format!("{}-config", req.parent().name()) },
///         "data": { "message": parent["spec"]["message"] }
///     })))
/// };
/// # fn takes<H: Handler>(_: H) {}
/// # takes(handler);
/// ```
///
/// Implement the trait on a type to add a finalizer hook:
///
/// ```
/// use roperator_core::prelude::*;
///
/// struct Echo;
///
/// impl Handler for Echo {
///     type Error = Error;
///
///     fn sync(&self, _req: &SyncRequest) -> Result<SyncResponse, Error> {
///         Ok(SyncResponse::new())
///     }
///
///     fn finalize(&self, _req: &SyncRequest) -> Result<FinalizeResponse, Error> {
///         // Clean up whatever lives outside the cluster, then:
///         Ok(FinalizeResponse::done())
///     }
/// }
/// ```
pub trait Handler: Send + Sync + 'static {
    /// The handler's error; its message is logged and shown in an Event on the parent.
    type Error: Display + Send + 'static;

    /// Returns the desired children and status of the parent in `request`.
    fn sync(&self, request: &SyncRequest) -> Result<SyncResponse, Self::Error>;

    /// Called instead of `sync` when a parent with the controller's finalizer (see
    /// [`ControllerConfig::with_finalizer`](crate::ControllerConfig::with_finalizer)) is being
    /// deleted. The default is done at once.
    fn finalize(&self, request: &SyncRequest) -> Result<FinalizeResponse, Self::Error> {
        let _ = request;
        Ok(FinalizeResponse::done())
    }

    /// `false` for handlers that cannot finalize (plain closures): a controller configured with
    /// a finalizer refuses to start with one. Not meant to be overridden.
    #[doc(hidden)]
    fn can_finalize(&self) -> bool {
        true
    }
}

impl<F, E> Handler for F
where
    F: Fn(&SyncRequest) -> Result<SyncResponse, E> + Send + Sync + 'static,
    E: Display + Send + 'static,
{
    type Error = E;

    fn sync(&self, request: &SyncRequest) -> Result<SyncResponse, E> {
        self(request)
    }

    fn can_finalize(&self) -> bool {
        false
    }
}

/// An async sync function, for handlers that must call out (to a cloud API, a database...),
/// typically in [`finalize`](Self::finalize). It runs on the async runtime, so it must not
/// block; use [`Handler`] for plain computation.
///
/// Closures that take the request by value and return a future are async handlers:
///
/// ```
/// use roperator_core::prelude::*;
///
/// let handler = |req: SyncRequest| async move {
///     let _name = req.parent().name().to_string();
///     Ok::<_, Error>(SyncResponse::new())
/// };
/// # fn takes<H: AsyncHandler>(_: H) {}
/// # takes(handler);
/// ```
pub trait AsyncHandler: Send + Sync + 'static {
    /// The handler's error; its message is logged and shown in an Event on the parent.
    type Error: Display + Send + 'static;

    /// Returns the desired children and status of the parent in `request`.
    fn sync(
        &self,
        request: &SyncRequest,
    ) -> impl Future<Output = Result<SyncResponse, Self::Error>> + Send;

    /// Called instead of `sync` while a parent with the operator's finalizer is being deleted.
    /// The default is done at once.
    fn finalize(
        &self,
        request: &SyncRequest,
    ) -> impl Future<Output = Result<FinalizeResponse, Self::Error>> + Send {
        let _ = request;
        async { Ok(FinalizeResponse::done()) }
    }

    /// `false` for handlers that cannot finalize (plain closures); see
    /// [`Handler::can_finalize`].
    #[doc(hidden)]
    fn can_finalize(&self) -> bool {
        true
    }
}

impl<F, Fut, E> AsyncHandler for F
where
    F: Fn(SyncRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<SyncResponse, E>> + Send + 'static,
    E: Display + Send + 'static,
{
    type Error = E;

    fn sync(&self, request: &SyncRequest) -> impl Future<Output = Result<SyncResponse, E>> + Send {
        self(request.clone())
    }

    fn can_finalize(&self) -> bool {
        false
    }
}

/// What a handler call produced.
#[derive(Debug)]
pub(crate) enum Outcome {
    Sync(SyncResponse),
    Finalize(FinalizeResponse),
}

/// Why a handler call produced nothing usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HandlerFailure {
    /// The handler returned an error.
    Error(String),
    /// The handler panicked.
    Panic(String),
}

/// The engine's view of either flavour of handler. Each call owns its request so that it can
/// run on another thread or task; the engine adds the timeout.
pub(crate) trait ErasedHandler: Send + Sync + 'static {
    fn call(
        self: Arc<Self>,
        request: SyncRequest,
        finalize: bool,
    ) -> BoxFuture<'static, Result<Outcome, HandlerFailure>>;

    /// `true` for blocking handlers: after a timeout their thread cannot be stopped, so the
    /// engine waits for it before calling the handler again for the same parent.
    fn is_blocking(&self) -> bool;

    /// `false` when the handler has no finalize function of its own.
    fn can_finalize(&self) -> bool;
}

pub(crate) struct Blocking<H>(pub H);
pub(crate) struct Async<H>(pub H);

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

fn join_failure(e: tokio::task::JoinError) -> HandlerFailure {
    if e.is_panic() {
        HandlerFailure::Panic(panic_message(&*e.into_panic()))
    } else {
        HandlerFailure::Error("the handler task was cancelled".to_string())
    }
}

impl<H: Handler> ErasedHandler for Blocking<H> {
    fn call(
        self: Arc<Self>,
        request: SyncRequest,
        finalize: bool,
    ) -> BoxFuture<'static, Result<Outcome, HandlerFailure>> {
        let task = tokio::task::spawn_blocking(move || {
            if finalize {
                self.0.finalize(&request).map(Outcome::Finalize)
            } else {
                self.0.sync(&request).map(Outcome::Sync)
            }
            .map_err(|e| HandlerFailure::Error(e.to_string()))
        });
        Box::pin(async move { task.await.map_err(join_failure)? })
    }

    fn is_blocking(&self) -> bool {
        true
    }

    fn can_finalize(&self) -> bool {
        self.0.can_finalize()
    }
}

impl<H: AsyncHandler> ErasedHandler for Async<H> {
    fn call(
        self: Arc<Self>,
        request: SyncRequest,
        finalize: bool,
    ) -> BoxFuture<'static, Result<Outcome, HandlerFailure>> {
        // A task of its own so that a panic is caught and a timeout can abort it.
        let task = tokio::spawn(async move {
            if finalize {
                self.0.finalize(&request).await.map(Outcome::Finalize)
            } else {
                self.0.sync(&request).await.map(Outcome::Sync)
            }
            .map_err(|e| HandlerFailure::Error(e.to_string()))
        });
        let abort = task.abort_handle();
        let guard = AbortOnDrop(abort);
        Box::pin(async move {
            let result = task.await.map_err(join_failure);
            drop(guard);
            result?
        })
    }

    fn is_blocking(&self) -> bool {
        false
    }

    fn can_finalize(&self) -> bool {
        self.0.can_finalize()
    }
}

/// Dropping the call (on timeout or cancellation) stops the async handler too.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
