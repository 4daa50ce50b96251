//! Agents: the machines (and the server's own `local` agent) that run tasks.

use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, Set, sea_query::Expr};
use uuid::Uuid;

use crate::{
    domain::agent::{Agent, AgentSettings},
    error::{CoreError, CoreResult},
    persistence::{Db, entities::agents},
};

fn agent(m: agents::Model) -> Agent {
    Agent {
        id: m.id,
        tenant_id: m.tenant_id,
        name: m.name,
        hostname: m.hostname,
        last_seen_at: m.last_seen_at,
        created_at: m.created_at,
        settings: serde_json::from_str(&m.settings).unwrap_or_default(),
    }
}

/// The agent `name` of a tenant, created on first use.
pub async fn get_or_create_agent(db: &Db, tenant_id: Uuid, name: &str, hostname: &str) -> CoreResult<Agent> {
    if let Some(found) = agent_by_name(db, tenant_id, name).await? {
        return Ok(found);
    }
    let row = agents::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant_id),
        name: Set(name.to_owned()),
        hostname: Set(hostname.to_owned()),
        last_seen_at: Set(None),
        created_at: Set(Utc::now()),
        settings: Set("{}".into()),
    };
    match row.insert(db).await {
        Ok(m) => Ok(agent(m)),
        Err(_) => {
            agent_by_name(db, tenant_id, name).await?.ok_or_else(|| CoreError::Conflict(format!("agent '{name}' could not be created")))
        }
    }
}

pub async fn agent_by_name(db: &Db, tenant_id: Uuid, name: &str) -> CoreResult<Option<Agent>> {
    if !crate::persistence::storable(name) {
        return Ok(None);
    }
    let row = agents::Entity::find().filter(agents::Column::TenantId.eq(tenant_id)).filter(agents::Column::Name.eq(name)).one(db).await?;
    Ok(row.map(agent))
}

/// Agents of every tenant with this name (the server's `local` agents).
pub async fn agents_named(db: &Db, name: &str) -> CoreResult<Vec<Agent>> {
    Ok(agents::Entity::find().filter(agents::Column::Name.eq(name)).all(db).await?.into_iter().map(agent).collect())
}

pub async fn get_agent(db: &Db, id: Uuid) -> CoreResult<Option<Agent>> {
    Ok(agents::Entity::find_by_id(id).one(db).await?.map(agent))
}

pub async fn list_agents(db: &Db, tenant_id: Uuid) -> CoreResult<Vec<Agent>> {
    Ok(agents::Entity::find()
        .filter(agents::Column::TenantId.eq(tenant_id))
        .order_by_asc(agents::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(agent)
        .collect())
}

/// Every agent that is not deleted, of every tenant.
pub async fn all_agents(db: &Db) -> CoreResult<Vec<Agent>> {
    Ok(agents::Entity::find()
        .order_by_asc(agents::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(agent)
        .filter(|a| !a.settings.deleted)
        .collect())
}

/// Records that the agent was heard from now, writing the row only when its time is older than
/// `fresh_for`: an agent asks for work twice a second, and a write per ask would cost a commit
/// each and make every kept listing ([`crate::persistence::writes`]) stale.
pub async fn touch_agent(db: &Db, id: Uuid, fresh_for: Duration) -> CoreResult<()> {
    let now = Utc::now();
    agents::Entity::update_many()
        .col_expr(agents::Column::LastSeenAt, Expr::value(now))
        .filter(agents::Column::Id.eq(id))
        .filter(Condition::any().add(agents::Column::LastSeenAt.is_null()).add(agents::Column::LastSeenAt.lt(now - fresh_for)))
        .exec(db)
        .await?;
    Ok(())
}

/// Records the host a (re)registering agent runs on, and that it was heard from now.
pub async fn set_agent_hostname(db: &Db, id: Uuid, hostname: &str) -> CoreResult<()> {
    agents::Entity::update_many()
        .col_expr(agents::Column::LastSeenAt, Expr::value(Utc::now()))
        .col_expr(agents::Column::Hostname, Expr::value(hostname.to_owned()))
        .filter(agents::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn set_agent_settings(db: &Db, id: Uuid, settings: &AgentSettings) -> CoreResult<()> {
    agents::Entity::update_many()
        .col_expr(agents::Column::Settings, Expr::value(serde_json::to_string(settings).expect("settings serialise")))
        .filter(agents::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
