//! OpsCenter error bodies: `{"message", "type", "brief": "error"}`; a 401 has no `brief`, as
//! OpsCenter's own "You must be logged in" answer.

use serde_json::{Value, json};

use crate::{api::common::ErrorContext, error::CoreError};

/// The error class name OpsCenter puts in `type`.
fn type_name(err: &CoreError) -> String {
    match err {
        CoreError::BadRequest(_) | CoreError::Unprocessable(_) => "InvalidArguments".into(),
        CoreError::Unauthorized(_) => "Unauthorized".into(),
        CoreError::Forbidden(_) => "Forbidden".into(),
        CoreError::NotFound { what, .. } => format!("NoSuch{}", camel(what)),
        CoreError::NoRoute(_) => "NotFound".into(),
        CoreError::MethodNotAllowed(_) => "MethodNotAllowed".into(),
        CoreError::Conflict(_) => "Conflict".into(),
        CoreError::PreconditionFailed(_) => "PreconditionFailed".into(),
        CoreError::PayloadTooLarge { .. } => "RequestEntityTooLarge".into(),
        CoreError::UnsupportedMediaType(_) => "UnsupportedMediaType".into(),
        CoreError::RateLimited { .. } => "TooManyRequests".into(),
        CoreError::Unavailable(_) => "ServiceUnavailable".into(),
        CoreError::Internal(_) => "InternalError".into(),
    }
}

fn camel(words: &str) -> String {
    words
        .split([' ', '_', '-'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// OpsCenter's own wording where clients may match on it.
fn message(err: &CoreError, ctx: &ErrorContext) -> String {
    match err {
        CoreError::NotFound { what: "cluster", id } => format!("There are no clusters with name or ID '{id}'"),
        CoreError::Unauthorized(m) if m == "authentication required" => "You must be logged in for this operation".into(),
        other => ctx.public_message(other),
    }
}

pub fn body(err: &CoreError, ctx: &ErrorContext) -> Value {
    let mut body = json!({ "message": message(err, ctx), "type": type_name(err) });
    if !matches!(err, CoreError::Unauthorized(_)) {
        body["brief"] = json!("error");
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_objects_become_no_such_types() {
        assert_eq!(type_name(&CoreError::not_found("cluster", "x")), "NoSuchCluster");
        assert_eq!(type_name(&CoreError::not_found("backup destination", "x")), "NoSuchBackupDestination");
    }
}
