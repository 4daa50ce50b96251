//! Instaclustr v1 error bodies: `{"status", "message", "errorDetails", "code", "link"}`.

use poem_openapi::types::ToJSON;
use serde_json::Value;

use super::models::ErrorBody;
use crate::{api::common::ErrorContext, error::CoreError};

pub fn body(err: &CoreError, ctx: &ErrorContext) -> Value {
    let status = err.status();
    let body = ErrorBody {
        status,
        message: ctx.public_message(err),
        error_details: Default::default(),
        code: status,
        link: format!("{}/docs", ctx.base_url),
    };
    body.to_json().unwrap_or_default()
}
