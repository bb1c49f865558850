//! `/api/jira/connections`: list, create, show and delete Jira connections.
//! Credentials go in and never come out: answers show a connection's
//! status (e.g. `needs_consent`) but no secret, not even in part.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::request::read_json;
use super::{ApiError, AppState, json_response};
use crate::domain::input::InputError;
use crate::jira::connection::{Credentials, Flavor, Settings};
use crate::jira::store::{ConnectionUpdate, NewConnectionInput};

type Resp = Response<Full<Bytes>>;

/// The body of `POST /api/jira/connections`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateBody {
    name: String,
    flavor: Flavor,
    #[serde(default)]
    base_url: Option<String>,
    auth: AuthBody,
    #[serde(default)]
    settings: Option<Settings>,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
enum AuthBody {
    Basic {
        email: String,
        #[serde(rename = "apiToken")]
        api_token: String,
    },
    Pat {
        token: String,
    },
    Oauth {
        #[serde(rename = "clientId")]
        client_id: String,
        #[serde(rename = "clientSecret")]
        client_secret: String,
    },
}

/// The body of `PATCH /api/jira/connections/:id`: every key optional.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PatchBody {
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    auth: Option<AuthBody>,
    #[serde(default)]
    settings: Option<Settings>,
}

impl From<AuthBody> for Credentials {
    fn from(a: AuthBody) -> Self {
        match a {
            AuthBody::Basic { email, api_token } => Self::Basic { email, api_token },
            AuthBody::Pat { token } => Self::Pat { token },
            AuthBody::Oauth { client_id, client_secret } => {
                Self::Oauth { client_id, client_secret, access_token: None, refresh_token: None }
            }
        }
    }
}

/// Serde's complaint, which quotes field names but never values.
fn invalid(e: serde_json::Error) -> ApiError {
    InputError::new("invalid_value", None, format!("invalid connection: {e}")).into()
}

fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| ApiError::NotFound(format!("no Jira connection {id}")))
}

pub async fn list(state: &AppState) -> Result<Resp, ApiError> {
    let all = state.connections.list().await?;
    Ok(json_response(StatusCode::OK, &json!({ "data": all })))
}

pub async fn create(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let body: CreateBody = serde_json::from_value(read_json(req, state.max_body_bytes).await?).map_err(invalid)?;
    let name = body.name.trim().to_string();
    if name.is_empty() || name.len() > 100 {
        return Err(InputError::new("invalid_value", Some("name".into()), "name: 1 to 100 characters").into());
    }
    let base_url = site_url(body.base_url)?;
    let input = NewConnectionInput {
        name: name.clone(),
        flavor: body.flavor,
        base_url,
        credentials: body.auth.into(),
        settings: body.settings.unwrap_or_default(),
    };
    let Some(id) = state.connections.create(&input).await? else {
        return Err(InputError::new(
            "invalid_value",
            Some("name".into()),
            format!("a connection named {name:?} exists"),
        )
        .into());
    };
    tracing::info!(connection = id, %name, "created a Jira connection");
    show(state, &id.to_string(), StatusCode::CREATED).await
}

fn site_url(url: Option<String>) -> Result<Option<String>, ApiError> {
    let url = url.map(|u| u.trim().trim_end_matches('/').to_string());
    if url.as_deref().is_some_and(|u| !(u.starts_with("https://") || u.starts_with("http://"))) {
        return Err(InputError::new("invalid_value", Some("baseUrl".into()), "baseUrl must be an http(s) URL").into());
    }
    Ok(url)
}

/// Rotates credentials, moves the site or changes settings. Workers pick
/// the change up when they next load the connection.
pub async fn patch(state: &AppState, id: &str, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let body: PatchBody = serde_json::from_value(read_json(req, state.max_body_bytes).await?).map_err(invalid)?;
    let change = ConnectionUpdate {
        base_url: site_url(body.base_url)?,
        credentials: body.auth.map(Credentials::from),
        settings: body.settings,
    };
    if !state.connections.update(parse_id(id)?, &change).await? {
        return Err(ApiError::NotFound(format!("no Jira connection {id}")));
    }
    show(state, id, StatusCode::OK).await
}

pub async fn get(state: &AppState, id: &str) -> Result<Resp, ApiError> {
    show(state, id, StatusCode::OK).await
}

async fn show(state: &AppState, id: &str, status: StatusCode) -> Result<Resp, ApiError> {
    let summary = state.connections.summary(parse_id(id)?).await?;
    let summary = summary.ok_or_else(|| ApiError::NotFound(format!("no Jira connection {id}")))?;
    Ok(json_response(status, &serde_json::to_value(summary).map_err(ApiError::internal)?))
}

pub async fn delete(state: &AppState, id: &str) -> Result<Resp, ApiError> {
    let client = state.pool.get().await?;
    if !crate::db::connections::delete(&client, parse_id(id)?).await? {
        return Err(ApiError::NotFound(format!("no Jira connection {id}")));
    }
    Ok(Response::builder().status(StatusCode::NO_CONTENT).body(Full::new(Bytes::new())).expect("static response"))
}
