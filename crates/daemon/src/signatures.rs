//! At start and hourly: how old clamd's signature database is, logged as a
//! warning when it is missing or older than `av.max_signature_age_hours`
//! and passed on as a metric. Used by the daemon and the relay alike;
//! `av.on_stale = "block"` itself is enforced by every scan (mugai-clamd).

use mugai_clamd::Signatures;
use mugai_core::config::{AvPolicy, OnStaleSignatures};
use std::time::Duration;

/// Runs forever; `av` gives the current `[av]` (it may be reloaded),
/// `on_age` receives the database's age in seconds when known.
pub async fn watch(av: impl Fn() -> AvPolicy, on_age: impl Fn(u64)) {
    loop {
        let av = av();
        if let Some(clamd) =
            mugai_clamd::from_policy(&av).filter(|_| av.max_signature_age_hours > 0)
        {
            let res =
                tokio::task::spawn_blocking(move || mugai_clamd::signatures::check(&clamd)).await;
            match res {
                Ok(Ok(sigs)) => {
                    if let Signatures::Dated { age, .. } = &sigs {
                        on_age(age.as_secs());
                    }
                    let max = Duration::from_secs(av.max_signature_age_hours * 3600);
                    if sigs.is_stale(max) {
                        let on_stale = match av.on_stale {
                            OnStaleSignatures::Block => "block: every scan fails closed",
                            OnStaleSignatures::Warn => "warn",
                        };
                        tracing::warn!(
                            signatures = %sigs.describe(),
                            on_stale,
                            "malware signatures are not current (av.max_signature_age_hours = {})",
                            av.max_signature_age_hours
                        );
                    } else {
                        tracing::info!(signatures = %sigs.describe(), "malware signatures checked");
                    }
                }
                Ok(Err(e)) => tracing::warn!("cannot ask clamd for its signatures: {e}"),
                Err(_) => {}
            }
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
