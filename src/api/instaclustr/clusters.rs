//! Clusters: the account's list, a cluster's status document (also under Terraform's path) and
//! its removal.

use chrono::Utc;
use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::{
    ProvisioningTag, cluster, cluster_status, dc_id, dc_of,
    models::{Cluster, ClusterNode, ClusterStatus, ClusterSummary, DataCentre, Message, NodeStatus, PciCompliance, RestoredFrom, SlaTier},
    restore::RestoreRecord,
};
use crate::{
    api::common::security::Caller, domain::identity::Principal, domain::source::SourceKind, engine::SourceView, error::CoreError,
    state::AppState,
};

/// The clusters part of the provisioning API.
pub struct ClustersApi;

#[derive(ApiResponse)]
enum ClusterResponse {
    /// The cluster (clients expect 202 here).
    #[oai(status = 202)]
    Ok(Json<Cluster>),
}

#[derive(ApiResponse)]
enum Removed {
    /// The cluster left the account.
    #[oai(status = 202)]
    Ok(Json<Message>),
}

/// The cluster status document, with each data centre and node; a restored cluster shows the
/// networks and the moment it was restored to.
pub(super) async fn status_document(state: &AppState, p: &Principal, view: &SourceView) -> Result<Cluster, CoreError> {
    let status = cluster_status(state, p, view).await;
    let agents = state.engine.list_agents(p).await?;
    let record = RestoreRecord::of(view);
    let now = Utc::now();
    let mut dcs: Vec<&str> = Vec::new();
    for dc in view.nodes.iter().map(|n| dc_of(n.datacenter.as_deref())) {
        if !dcs.contains(&dc) {
            dcs.push(dc);
        }
    }
    let data_centres = dcs
        .iter()
        .map(|dc| {
            let nodes: Vec<ClusterNode> = view
                .nodes
                .iter()
                .filter(|n| dc_of(n.datacenter.as_deref()) == *dc)
                .map(|n| {
                    let up = agents.iter().any(|a| a.name == n.agent && a.is_up(now, state.settings.agent_down_after_secs));
                    let node_status = match (status, up) {
                        (ClusterStatus::Running, true) => NodeStatus::Running,
                        (ClusterStatus::Running, false) => NodeStatus::Unavailable,
                        (ClusterStatus::Provisioning, _) => NodeStatus::Provisioning,
                        (ClusterStatus::Failed, _) => NodeStatus::Failed,
                    };
                    ClusterNode {
                        id: n.id,
                        size: "coffer-node".into(),
                        rack: None,
                        public_address: n.name.clone(),
                        private_address: n.name.clone(),
                        node_status,
                        agent: n.agent.clone(),
                    }
                })
                .collect();
            let network = record.as_ref().map(|r| r.network_of(dc)).unwrap_or_default();
            DataCentre {
                id: dc_id(view.source.id, dc),
                name: (*dc).to_owned(),
                cdc_name: (*dc).to_owned(),
                provider: "COFFER".into(),
                cdc_network: network.network,
                restore_to_same_vpc: network.same_vpc,
                custom_vpc_id: network.vpc_id,
                bundles: vec!["APACHE_CASSANDRA".into()],
                node_count: nodes.len() as u32,
                cdc_status: status,
                nodes,
            }
        })
        .collect();
    Ok(Cluster {
        id: view.source.id,
        cluster_name: view.source.name.clone(),
        cluster_status: status,
        bundle_type: "APACHE_CASSANDRA".into(),
        sla_tier: SlaTier::NonProduction,
        pci_compliance: PciCompliance::Disabled,
        data_centre: dcs.first().map(|dc| (*dc).to_owned()),
        cluster_network: record.as_ref().and_then(|r| r.cluster_network.clone()),
        restored_from: record.map(|r| RestoredFrom {
            cluster_id: r.cluster,
            point_in_time: r.point_in_time,
            requested_point_in_time: r.requested_point_in_time,
        }),
        data_centres,
    })
}

#[OpenApi(tag = "ProvisioningTag::Clusters")]
impl ClustersApi {
    /// The account's clusters (404 when there are none, as clients expect).
    #[oai(path = "/provisioning/v1", method = "get", operation_id = "instaclustr_clusters")]
    async fn clusters(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Vec<ClusterSummary>>> {
        let p = caller.principal();
        let views = state.engine.list_sources(p, Some(SourceKind::Cluster)).await?;
        if views.is_empty() {
            return Err(CoreError::NoRoute("/provisioning/v1: the account has no clusters".into()).into());
        }
        let mut out = Vec::new();
        for v in &views {
            let doc = status_document(&state, p, v).await?;
            let nodes: Vec<&ClusterNode> = doc.data_centres.iter().flat_map(|dc| &dc.nodes).collect();
            out.push(ClusterSummary {
                id: v.source.id,
                name: v.source.name.clone(),
                node_count: nodes.len() as u32,
                running_node_count: nodes.iter().filter(|n| n.node_status == NodeStatus::Running).count() as u32,
                derived_status: doc.cluster_status,
                sla_tier: doc.sla_tier,
                pci_compliance: doc.pci_compliance,
            });
        }
        Ok(Json(out))
    }

    /// The cluster's status, data centres and nodes (202, as clients require).
    #[oai(path = "/provisioning/v1/:clusterId", method = "get", operation_id = "instaclustr_cluster")]
    async fn cluster(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        #[oai(name = "clusterId")] cluster_id: Path<Uuid>,
    ) -> poem::Result<ClusterResponse> {
        let p = caller.principal();
        let view = cluster(&state, p, cluster_id.0).await?;
        Ok(ClusterResponse::Ok(Json(status_document(&state, p, &view).await?)))
    }

    /// The same document under the path newer Terraform providers read.
    #[oai(path = "/provisioning/v1/:clusterId/terraform-description", method = "get", operation_id = "instaclustr_terraform_description")]
    async fn terraform(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        #[oai(name = "clusterId")] cluster_id: Path<Uuid>,
    ) -> poem::Result<ClusterResponse> {
        self.cluster(state, caller, cluster_id).await
    }

    /// Removes the cluster from the account (its data and backups stay); 409 while work on it runs.
    #[oai(path = "/provisioning/v1/:clusterId", method = "delete", operation_id = "instaclustr_delete_cluster")]
    async fn delete(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        #[oai(name = "clusterId")] cluster_id: Path<Uuid>,
    ) -> poem::Result<Removed> {
        let p = caller.principal();
        let view = cluster(&state, p, cluster_id.0).await?;
        state.engine.delete_cluster(p, view.source.id).await?;
        Ok(Removed::Ok(Json(Message { message: format!("cluster {} deleted", view.source.id) })))
    }
}
