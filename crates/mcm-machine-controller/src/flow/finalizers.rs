//! The MachineClass and Secret finalizer passes (contract 02 §6, rows F1–F9) over a
//! small trait: which finalizer write is made, what a failed write does to the
//! requeue, and when referencing Machines are enqueued.

use std::future::Future;

use mcm_api::v1alpha1::{Machine, MachineClass};

use crate::decide::finalizers::{
    CLASS_FINALIZER, ClassFinalizerAction, SECRET_FINALIZER, class_finalizer_action,
    class_pass_retry, secret_is_referenced, toggle_finalizer,
};
use crate::retry::Retry;

/// What the class and secret passes read and do.
pub trait FinalizerEffects: Send {
    /// The MachineClass of this name in the controller's namespace (cache).
    fn machine_class(&self, name: &str) -> Option<MachineClass>;

    /// All MachineClasses of the controller's namespace (cache).
    fn machine_classes(&self) -> Vec<MachineClass>;

    /// All Machines of the controller's namespace (cache).
    fn machines(&self) -> Vec<Machine>;

    /// The finalizers of the Secret of this name in the controller's namespace as
    /// cached; `None` when the Secret is not in the cache.
    fn secret_finalizers(&self, name: &str) -> Option<Vec<String>>;

    /// Adds (`present`) or removes the class finalizer: fresh GET, then update.
    fn set_class_finalizer(
        &mut self,
        name: &str,
        present: bool,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// Adds (`present`) or removes the secret finalizer: fresh GET, then update.
    fn set_secret_finalizer(
        &mut self,
        name: &str,
        present: bool,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// Puts a Machine (`namespace/name`) on the machine queue.
    fn enqueue_machine(&mut self, key: &str);
}

/// One `machineclass` pass (§6.1): `Long` when done (F1, F2, F4), `Short` when the
/// class is blocked by machines (F3) or a finalizer write failed (F9); `Never` when
/// the class is gone. The write is made only when the cached class needs it.
pub async fn reconcile_class<E: FinalizerEffects>(effects: &mut E, name: &str) -> Retry {
    let Some(class) = effects.machine_class(name) else {
        return Retry::Never;
    };
    let machines = effects.machines();
    let action = class_finalizer_action(&class, &machines);
    let present = match &action {
        ClassFinalizerAction::Ensure { .. } => true,
        ClassFinalizerAction::Remove => false,
        ClassFinalizerAction::Blocked => {
            tracing::info!(
                class = name,
                "MachineClass is being deleted but machines still refer to it"
            );
            return class_pass_retry(true);
        }
    };
    if toggle_finalizer(class.metadata.finalizers.as_ref(), CLASS_FINALIZER, present).is_some()
        && let Err(error) = effects.set_class_finalizer(name, present).await
    {
        tracing::warn!(class = name, %error, present, "updating the class finalizer failed");
        return class_pass_retry(true);
    }
    if let ClassFinalizerAction::Ensure { enqueue } = action {
        for key in enqueue {
            effects.enqueue_machine(&key);
        }
    }
    class_pass_retry(false)
}

/// The result of a `secret` pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretPass {
    /// The pass's own retry: `RateLimited` when the finalizer write failed.
    pub retry: Retry,
    /// Whether the Secret was found, so it comes back after 10 minutes (F5, F6).
    pub resync: bool,
}

/// One `secret` pass (§6.2) for key `namespace/name`: Secrets outside `namespace`
/// (F7) and Secrets that are gone (F8) end without any requeue; otherwise the
/// finalizer follows whether a class references the Secret (F5, F6).
pub async fn reconcile_secret<E: FinalizerEffects>(
    effects: &mut E,
    namespace: &str,
    key: &str,
) -> SecretPass {
    let (key_namespace, name) = key.split_once('/').unwrap_or(("", key));
    let done = SecretPass {
        retry: Retry::Never,
        resync: false,
    };
    if key_namespace != namespace {
        return done;
    }
    let Some(current) = effects.secret_finalizers(name) else {
        return done;
    };
    let referenced = secret_is_referenced(name, &effects.machine_classes());
    if toggle_finalizer(Some(&current), SECRET_FINALIZER, referenced).is_some()
        && let Err(error) = effects.set_secret_finalizer(name, referenced).await
    {
        tracing::warn!(secret = name, %error, "updating the secret finalizer failed");
        return SecretPass {
            retry: Retry::RateLimited,
            resync: true,
        };
    }
    SecretPass {
        retry: Retry::Never,
        resync: true,
    }
}
