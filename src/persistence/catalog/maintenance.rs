//! Whole-database reads and rewrites: counts for metrics, sealing secrets again under a new key.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set, Statement, TransactionTrait};

use crate::{
    domain::state::State,
    error::{CoreError, CoreResult},
    persistence::{
        Db,
        entities::{destinations, nodes, operations},
    },
};

/// How many operations there are of each kind in each state.
pub async fn operation_counts(db: &Db) -> CoreResult<Vec<(String, String, i64)>> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT kind, state, COUNT(*) AS n FROM operations GROUP BY kind, state ORDER BY kind, state",
        ))
        .await?;
    rows.into_iter().map(|r| Ok((r.try_get("", "kind")?, r.try_get("", "state")?, r.try_get("", "n")?))).collect()
}

/// Re-seals every sealed value (destination secrets, sealed node locations) with `reseal`, in one
/// transaction: either every value is under the new key or none is. Answers how many of each.
pub async fn reseal_secrets(db: &Db, reseal: impl Fn(&str) -> CoreResult<String>) -> CoreResult<(usize, usize)> {
    let txn = db.begin().await?;
    // Tasks waiting to run carry sealed locations of their own; they would not open afterwards.
    let unfinished = operations::Entity::find()
        .filter(operations::Column::State.is_in([State::Queued, State::Running, State::Cancelling].map(State::as_str)))
        .count(&txn)
        .await?;
    if unfinished > 0 {
        return Err(CoreError::Conflict(format!(
            "{unfinished} operation(s) have not ended; let them end (or cancel them) before sealing secrets again"
        )));
    }
    let mut counts = (0, 0);
    for row in destinations::Entity::find().filter(destinations::Column::Secret.is_not_null()).all(&txn).await? {
        let Some(sealed) = row.secret.clone() else { continue };
        let mut active: destinations::ActiveModel = row.into();
        active.secret = Set(Some(reseal(&sealed)?));
        active.update(&txn).await?;
        counts.0 += 1;
    }
    for row in nodes::Entity::find().filter(nodes::Column::Location.starts_with(crate::crypto::SEALED_PREFIX)).all(&txn).await? {
        let sealed = row.location.clone();
        let mut active: nodes::ActiveModel = row.into();
        active.location = Set(reseal(&sealed)?);
        active.update(&txn).await?;
        counts.1 += 1;
    }
    txn.commit().await?;
    Ok(counts)
}
