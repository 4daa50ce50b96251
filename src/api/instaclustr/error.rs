//! Instaclustr v1 error bodies: `{"status", "message", "errorDetails", "code", "link"}`.

use serde_json::{Value, json};

use crate::{api::common::ErrorContext, error::CoreError};

pub fn body(err: &CoreError, ctx: &ErrorContext) -> Value {
    let status = err.status();
    json!({
        "status": status,
        "message": ctx.public_message(err),
        "errorDetails": {},
        "code": status,
        "link": format!("{}/docs", ctx.base_url),
    })
}
