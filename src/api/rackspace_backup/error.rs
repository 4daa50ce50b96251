//! Cloud Backup faults. The SDK only logs error bodies; the Rackspace fault shape is what the
//! service family uses, so Cloud Backup shares it with Cloud Databases.

use serde_json::Value;

use crate::{api::common::ErrorContext, error::CoreError};

pub fn body(err: &CoreError, ctx: &ErrorContext) -> Value {
    crate::api::rackspace_db::error::body(err, ctx)
}
