//! Whether a runtime profile can be used here: its engine answers and has
//! the profile's OCI runtime registered.
//!
//! Owns that one decision, made the same way by [`Suite::prepare`] and by
//! the quick look the `cargo test` harness takes when it lists its trials
//! (connect and `info` only, under a short deadline: no sweep, no image,
//! no container), so a trial marked ignored at listing and one skipped at
//! run time say the same thing.
//!
//! [`Suite::prepare`]: crate::suite::Suite::prepare

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::load::runtime::{Profiles, RuntimeProfile};
use crate::run::engine::{Engine, EngineError};
use crate::suite::Availability;

/// Whether `profile` can run on the engine at `endpoint` (as connected).
pub fn decide(
    profile: &RuntimeProfile,
    endpoint: &str,
    engine: &Result<Arc<Engine>, EngineError>,
) -> Availability {
    let origin = profile.resolve_endpoint().origin;
    match engine {
        Err(e) => Availability::Unavailable(format!(
            "{e} (endpoint from {origin}); {}",
            profile.install_hint()
        )),
        Ok(engine) if !engine.has_runtime(&profile.oci_runtime) => {
            Availability::Unavailable(format!(
                "the engine at {endpoint} (from {origin}) has no runtime {:?} registered (it has: {}); {}",
                profile.oci_runtime,
                engine.info().runtimes.join(", "),
                profile.install_hint()
            ))
        }
        Ok(_) => Availability::Ready,
    }
}

/// The availability of each of `names`, each engine contacted once and
/// given at most `deadline` to connect and answer `info`.
pub async fn check(
    profiles: &Profiles,
    names: &[String],
    deadline: Duration,
) -> BTreeMap<String, Availability> {
    let mut engines: BTreeMap<String, Result<Arc<Engine>, EngineError>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for name in names {
        let profile = match profiles.get(name) {
            Ok(p) => p,
            Err(e) => {
                out.insert(name.clone(), Availability::Unavailable(e.to_string()));
                continue;
            }
        };
        let resolved = profile.resolve_endpoint();
        let endpoint = resolved.endpoint.clone();
        if !engines.contains_key(&endpoint) {
            let connect = tokio::time::timeout(deadline, Engine::connect_resolved(&resolved));
            let engine = match (&resolved.problem, connect.await) {
                (Some(problem), _) => Err(EngineError::Unreachable {
                    endpoint: endpoint.clone(),
                    message: problem.clone(),
                }),
                (None, Ok(r)) => r.map(Arc::new),
                (None, Err(_)) => Err(EngineError::Unreachable {
                    endpoint: endpoint.clone(),
                    message: format!("no answer within {}s", deadline.as_secs_f32()),
                }),
            };
            engines.insert(endpoint.clone(), engine);
        }
        out.insert(
            name.clone(),
            decide(profile, &endpoint, &engines[&endpoint]),
        );
    }
    out
}
