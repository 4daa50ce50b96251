//! Keystone error bodies (`{"error": {"code", "title", "message"}}`) for identity v3, the admin
//! API and operational endpoints. Identity v2 answers in the Rackspace fault shape instead, as
//! Rackspace identity does and pyrax expects.

use serde_json::{Value, json};

use crate::{api::common::ErrorContext, error::CoreError};

fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

pub fn body(err: &CoreError, ctx: &ErrorContext) -> Value {
    let status = err.status();
    json!({ "error": { "code": status, "title": title(status), "message": ctx.public_message(err) } })
}
