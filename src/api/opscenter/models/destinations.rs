//! Destinations: the server's own store (`OPSC_ON_SERVER`), local directories, S3 and Azure.

use poem_openapi::{
    Enum, Object, Union,
    registry::MetaSchema,
    types::{Example, ParseError, ParseFromJSON, ParseResult, ToJSON},
};
use serde_json::{Value, json};

use super::lenient::{Names, Numeric, Truthy, component, map_of};

/// The kind of a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase", rename = "OpsCenterProvider")]
pub enum Provider {
    /// The server's own store, `OPSC_ON_SERVER`.
    Server,
    /// A directory on the server (`localfs` is accepted as its name when adding).
    Local,
    S3,
    Azure,
}

/// `POST /{cluster_id}/backups/destinations`: a destination to add, or with `id` to update, or with
/// `id` and `delete_this: true` to remove. It is checked (written, read, cleaned) before it is saved.
#[derive(Debug, Default, Object)]
#[oai(example, rename = "OpsCenterDestinationBody", skip_serializing_if_is_none)]
pub struct DestinationBody {
    /// The destination to update or remove; a new one when absent.
    pub id: Option<String>,
    /// `s3`, `azure` or `local` (also `localfs`); required when adding.
    pub provider: Option<String>,
    /// S3: the bucket, optionally with a prefix (`bucket/prefix`); local: the directory.
    pub path: Option<String>,
    /// S3 access key id.
    pub access_key: Option<String>,
    /// S3 secret key; sent back redacted, and a redacted value sent again keeps the stored one.
    pub access_secret: Option<String>,
    /// S3 region.
    pub region: Option<String>,
    /// S3-compatible stores: the endpoint URL (Coffer's addition).
    pub endpoint: Option<String>,
    /// S3-compatible stores: path-style addressing (Coffer's addition).
    pub path_style: Option<Truthy>,
    /// S3 server-side encryption.
    pub server_side_encryption: Option<Truthy>,
    /// Azure storage account.
    pub storage_account_name: Option<String>,
    /// Azure storage key; never shown again.
    pub storage_key: Option<String>,
    /// Azure container.
    pub container_name: Option<String>,
    /// Azure: the folder inside the container.
    pub subfolder: Option<String>,
    /// Azure: talk to the Azurite emulator (Coffer's addition).
    pub use_emulator: Option<Truthy>,
    /// Bytes per second each transfer to it may use; 0 or absent for no limit.
    pub throttle_bytes_per_second: Option<Numeric>,
    /// With `id`: remove the destination.
    pub delete_this: Option<Truthy>,
    /// The data centres whose nodes can reach the destination.
    pub validation_dc_list: Option<Names>,
    /// A name for the admin API (Coffer's addition).
    pub name: Option<String>,
}

impl Example for DestinationBody {
    fn example() -> Self {
        DestinationBody {
            provider: Some("s3".into()),
            path: Some("example-opscenter-backups-1".into()),
            access_key: Some("AKIAIDGKF45VQXGUYIQQ".into()),
            access_secret: Some("gMizFwIoFHzIo7RrNmXUUd9zKea8hSkh6+wXLCT1".into()),
            validation_dc_list: Some(Names(vec!["dc2".into()])),
            ..Default::default()
        }
    }
}

/// A destination as it is shown; secrets redacted.
#[derive(Clone, Debug, Default, Object)]
#[oai(example, rename = "OpsCenterDestination")]
pub struct DestinationView {
    #[oai(skip_serializing_if_is_none)]
    pub provider: Option<Provider>,
    /// S3: bucket[/prefix]; local: the directory; the server: `""`.
    #[oai(skip_serializing_if_is_none)]
    pub path: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub access_key: Option<String>,
    /// Redacted.
    #[oai(skip_serializing_if_is_none)]
    pub access_secret: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub region: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub server_side_encryption: Option<bool>,
    #[oai(skip_serializing_if_is_none)]
    pub storage_account_name: Option<String>,
    /// Redacted.
    #[oai(skip_serializing_if_is_none)]
    pub storage_key: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub container_name: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub subfolder: Option<String>,
    /// Bytes per second, as a string as OpsCenter shows it; `"0"` for no limit.
    #[oai(skip_serializing_if_is_none)]
    pub throttle_bytes_per_second: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub endpoint: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub validation_dc_list: Option<Vec<String>>,
    /// The destination's id (Coffer's addition; always shown).
    #[oai(default)]
    pub id: String,
    /// Always false (always shown, as a boolean; older OpsCenter wrote it as the string "False").
    #[oai(default)]
    pub delete_this: Truthy,
}

impl DestinationView {
    /// The server's own store.
    pub fn on_server() -> Self {
        DestinationView {
            provider: Some(Provider::Server),
            path: Some(String::new()),
            id: crate::api::opscenter::view::ON_SERVER.into(),
            ..Default::default()
        }
    }
}

impl Example for DestinationView {
    fn example() -> Self {
        DestinationView {
            provider: Some(Provider::S3),
            path: Some("example-opscenter-backups-1".into()),
            access_key: Some("AKIAIDGKF45VQXGUYIQQ".into()),
            access_secret: Some("gMiz************".into()),
            throttle_bytes_per_second: Some("0".into()),
            server_side_encryption: Some(false),
            id: "06747042a9a45e78fa0297abb68448f".into(),
            ..Default::default()
        }
    }
}

map_of!(
    Destinations,
    "OpsCenterDestinations",
    DestinationView,
    "Destination id to destination",
    json!({ "06747042a9a45e78fa0297abb68448f0": { "access_key": "AKIAIDGKF45VQXGUYIQQ", "access_secret": "gMiz************", "path": "example-opscenter-backups-1", "provider": "s3", "throttle_bytes_per_second": "0", "id": "06747042a9a45e78fa0297abb68448f0", "delete_this": false } })
);

/// The answer of the newer edition (6.5 and later): `{"destination": [{<id>: {...}}], "request_id"}`.
#[derive(Debug, Object)]
#[oai(rename = "OpsCenterSavedDestination")]
pub struct SavedDestination {
    /// One entry: the destination's id to the destination.
    pub destination: Vec<Destinations>,
    /// The request that brought every agent the change.
    pub request_id: String,
}

/// The answer of the older edition (6.1): `{<id>: {...}, "request_id": "..."}`.
#[derive(Debug)]
pub struct OlderSavedDestination {
    pub id: String,
    pub destination: Box<DestinationView>,
    pub request_id: String,
}

component!(OlderSavedDestination, "OpsCenterSavedDestinationOlder", |registry| {
    DestinationView::register(registry);
    MetaSchema {
        description: Some("The 6.1 edition's answer: the destination under its id, and the request id beside it"),
        properties: vec![("request_id", String::schema_ref())],
        required: vec!["request_id"],
        additional_properties: Some(Box::new(DestinationView::schema_ref())),
        example: Some(json!({
            "06747042a9a45e78fa0297abb68448f0": { "access_key": "AKIAIDGKF45VQXGUYIQQ", "access_secret": "gMiz************", "path": "example-opscenter-backups-1", "provider": "s3", "id": "06747042a9a45e78fa0297abb68448f0", "delete_this": false },
            "request_id": "06747042-5a9a-45e7-8fa0-297abb68448f"
        })),
        ..MetaSchema::new("object")
    }
});

impl ToJSON for OlderSavedDestination {
    fn to_json(&self) -> Option<Value> {
        Some(json!({ self.id.clone(): self.destination.to_json(), "request_id": self.request_id }))
    }
}

impl ParseFromJSON for OlderSavedDestination {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let Some(Value::Object(mut map)) = value else { return Err(ParseError::custom("expected an object")) };
        let request_id = match map.remove("request_id") {
            Some(Value::String(s)) => s,
            _ => return Err(ParseError::custom("request_id is required")),
        };
        let (id, destination) = map.into_iter().next().ok_or_else(|| ParseError::custom("the destination is missing"))?;
        let destination = DestinationView::parse_from_json(Some(destination)).map_err(ParseError::propagate)?;
        Ok(OlderSavedDestination { id, destination: Box::new(destination), request_id })
    }
}

/// What adding or updating a destination answers, in the edition the request asks for.
#[derive(Debug, Union)]
#[oai(rename = "OpsCenterSavedDestinationAnswer")]
pub enum SavedAnswer {
    Newer(SavedDestination),
    Older(OlderSavedDestination),
}

/// Which edition of the API an answer follows (`?edition=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Enum)]
#[oai(rename = "OpsCenterEdition")]
pub enum Edition {
    /// OpsCenter 6.1: `{<id>: {...}, "request_id"}`.
    #[oai(rename = "6.1")]
    Older,
    /// OpsCenter 6.5 and later (the default): `{"destination": [{<id>: {...}}], "request_id"}`.
    #[default]
    #[oai(rename = "6.8")]
    Newer,
}
