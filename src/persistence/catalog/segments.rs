//! Archived commit log segments, and the archive rounds that shipped nothing.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use crate::{
    domain::{archive::Segment, operation::OperationKind, state::State},
    error::CoreResult,
    persistence::{
        Db,
        entities::{commitlog_segments, operations, tasks},
    },
};

fn segment(m: commitlog_segments::Model) -> Segment {
    Segment { node_id: m.node_id, destination_id: m.destination_id, name: m.name, at: m.segment_at, size: m.size, snapshot: m.snapshot }
}

/// Records archived segments; one already recorded (the same node, destination and name) stays as it was.
pub async fn add_segments(db: &Db, tenant_id: Uuid, source_id: Uuid, segments: &[Segment]) -> CoreResult<usize> {
    let mut added = 0;
    for s in segments {
        let exists = commitlog_segments::Entity::find()
            .filter(commitlog_segments::Column::NodeId.eq(s.node_id))
            .filter(commitlog_segments::Column::DestinationId.eq(s.destination_id))
            .filter(commitlog_segments::Column::Name.eq(s.name.clone()))
            .count(db)
            .await?
            > 0;
        if exists {
            continue;
        }
        let row = commitlog_segments::ActiveModel {
            id: Set(Uuid::new_v4()),
            tenant_id: Set(tenant_id),
            source_id: Set(source_id),
            node_id: Set(s.node_id),
            destination_id: Set(s.destination_id),
            name: Set(s.name.clone()),
            segment_at: Set(s.at),
            size: Set(s.size),
            snapshot: Set(s.snapshot.clone()),
            created_at: Set(Utc::now()),
        };
        // A concurrent recorder of the same segment loses on the unique index, which is fine.
        if row.insert(db).await.is_ok() {
            added += 1;
        }
    }
    Ok(added)
}

/// Names of a node's segments archived in a destination.
pub async fn segment_names(db: &Db, node_id: Uuid, destination_id: Uuid) -> CoreResult<Vec<String>> {
    Ok(commitlog_segments::Entity::find()
        .filter(commitlog_segments::Column::NodeId.eq(node_id))
        .filter(commitlog_segments::Column::DestinationId.eq(destination_id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.name)
        .collect())
}

/// A source's segments in a destination, oldest first.
pub async fn segments_of(db: &Db, source_id: Uuid, destination_id: Uuid) -> CoreResult<Vec<Segment>> {
    Ok(commitlog_segments::Entity::find()
        .filter(commitlog_segments::Column::SourceId.eq(source_id))
        .filter(commitlog_segments::Column::DestinationId.eq(destination_id))
        .order_by_asc(commitlog_segments::Column::SegmentAt)
        .order_by_asc(commitlog_segments::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(segment)
        .collect())
}

/// A node's newest archived segment, in one destination or in any.
pub async fn newest_segment(db: &Db, node_id: Uuid, destination_id: Option<Uuid>) -> CoreResult<Option<Segment>> {
    let mut q = commitlog_segments::Entity::find().filter(commitlog_segments::Column::NodeId.eq(node_id));
    if let Some(d) = destination_id {
        q = q.filter(commitlog_segments::Column::DestinationId.eq(d));
    }
    Ok(q.order_by_desc(commitlog_segments::Column::SegmentAt).one(db).await?.map(segment))
}

/// Removes finished archive rounds older than `before` that shipped nothing (they only say "nothing new").
pub async fn prune_idle_archive_rounds(db: &Db, before: DateTime<Utc>) -> CoreResult<()> {
    let idle = operations::Entity::find()
        .filter(operations::Column::Kind.eq(OperationKind::Archive.as_str()))
        .filter(operations::Column::FinishedAt.lt(before))
        .filter(operations::Column::State.eq(State::Succeeded.as_str()))
        .limit(1000)
        .all(db)
        .await?
        .into_iter()
        .filter(|m| m.result["files"].as_i64().unwrap_or(0) == 0)
        .collect::<Vec<_>>();
    // A cluster's newest round stays: it is what says whether its archiving works now.
    let mut newest_of = std::collections::HashMap::new();
    for source in idle.iter().filter_map(|m| m.source_id).collect::<std::collections::BTreeSet<_>>() {
        let newest = operations::Entity::find()
            .filter(operations::Column::Kind.eq(OperationKind::Archive.as_str()))
            .filter(operations::Column::SourceId.eq(source))
            .order_by_desc(operations::Column::CreatedAt)
            .one(db)
            .await?;
        newest_of.insert(source, newest.map(|m| m.id));
    }
    let idle: Vec<Uuid> =
        idle.into_iter().filter(|m| m.source_id.is_none_or(|s| newest_of.get(&s).copied().flatten() != Some(m.id))).map(|m| m.id).collect();
    if idle.is_empty() {
        return Ok(());
    }
    tasks::Entity::delete_many().filter(tasks::Column::OperationId.is_in(idle.clone())).exec(db).await?;
    operations::Entity::delete_many().filter(operations::Column::Id.is_in(idle)).exec(db).await?;
    Ok(())
}
