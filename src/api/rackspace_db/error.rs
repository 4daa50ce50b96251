//! Rackspace/Trove fault bodies: `{"<faultName>": {"code": N, "message": "..."}}`. troveclient,
//! cdbclient and pyrax read the first value's `message`, so the value is always an object.

use serde_json::{Value, json};

use crate::{api::common::ErrorContext, error::CoreError};

/// The fault name Rackspace uses for a status code.
pub fn fault_name(status: u16) -> &'static str {
    match status {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflictingRequest",
        413 | 429 => "overLimit",
        415 => "badMediaType",
        422 => "unprocessableEntity",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "instanceFault",
    }
}

/// The fault body for `err`.
pub fn body(err: &CoreError, ctx: &ErrorContext) -> Value {
    let status = err.status();
    let mut fault = json!({ "code": status, "message": ctx.public_message(err) });
    if let CoreError::RateLimited { retry_after_secs } = err {
        fault["retryAfter"] = json!(retry_after_secs.to_string());
    }
    json!({ fault_name(status): fault })
}
