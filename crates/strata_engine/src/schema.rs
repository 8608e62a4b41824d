//! What a database's schema is, as the verbs that compare schemas read it: a catalog
//! snapshot without strata's own registry, which is bookkeeping, not the user's schema (two
//! databases with the same objects but different histories are the same schema).

use crate::error::EngineError;
use crate::settings::Settings;
use strata_pg::Session;
use strata_schema::Snapshot;

/// Reads the snapshot of a connected database, without strata's registry.
pub async fn snapshot_of(session: &Session, settings: &Settings) -> Result<Snapshot, EngineError> {
    Ok(Snapshot::read(
        &session.client,
        std::slice::from_ref(&settings.registry_schema),
    )
    .await?)
}
