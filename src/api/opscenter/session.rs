//! `POST /login` (JSON or form-encoded) answers `{"sessionid": "<token>"}` and sets the
//! `TWISTED_SESSION` cookie; `GET /logout` revokes the session.

use poem::{Request, web::Data};
use poem_openapi::{
    ApiRequest, ApiResponse, Object, OpenApi, Tags,
    payload::{Form, Json},
};
use serde::Deserialize;

use super::models::Empty;
use crate::{
    api::common::{edge::client_ip, security::Caller},
    state::AppState,
};

#[derive(Tags)]
enum OpsTag {
    /// Sessions.
    Authentication,
}

/// OpsCenter's session endpoints.
pub struct SessionApi;

/// A username and password.
#[derive(Object, Deserialize)]
#[oai(rename = "OpsCenterCredentials")]
struct Credentials {
    username: String,
    password: String,
}

#[derive(ApiRequest)]
enum LoginRequest {
    Json(Json<Credentials>),
    Form(Form<Credentials>),
}

/// The session id to send as `opscenter-session`.
#[derive(Object)]
#[oai(rename = "OpsCenterSession")]
struct Session {
    sessionid: String,
}

#[derive(ApiResponse)]
enum LoginResponse {
    /// Logged in; the cookie carries the same session.
    #[oai(status = 200)]
    Ok(Json<Session>, #[oai(header = "Set-Cookie")] String),
}

#[OpenApi(tag = "OpsTag::Authentication")]
impl SessionApi {
    /// Logs in with a username and password (JSON or form-encoded).
    #[oai(path = "/login", method = "post", operation_id = "opscenter_login")]
    async fn login(&self, state: Data<&AppState>, req: &Request, body: LoginRequest) -> poem::Result<LoginResponse> {
        let creds = match body {
            LoginRequest::Json(Json(c)) | LoginRequest::Form(Form(c)) => c,
        };
        let principal = state.auth.login_with_password(&creds.username, &creds.password, client_ip(req)).await?;
        let issued = state.auth.issue_token(&principal)?;
        let cookie = format!("TWISTED_SESSION={}; Path=/; HttpOnly; SameSite=Lax", issued.token);
        Ok(LoginResponse::Ok(Json(Session { sessionid: issued.token }), cookie))
    }

    /// Ends the session: the session id stops working at once.
    #[oai(path = "/logout", method = "get", operation_id = "opscenter_logout")]
    async fn logout(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Empty>> {
        if let Some(token) = &caller.principal().token {
            state.auth.revoke(token).await?;
        }
        Ok(Json(Empty {}))
    }
}
