//! The router: method and path segments in, a handler's response out.
//!
//! Each request runs in a span named by its route template (never the raw
//! path, which holds ids), and a panicking handler becomes a 500 instead of
//! a dropped connection.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use bytes::Bytes;
use futures_util::FutureExt;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use tracing::Instrument;

use super::{
    ApiError, AppState, bulk, conflicts, connections, health, mappings, oauth, projects, sync, webhooks, work_items,
};
use crate::domain::EntityKind;

/// The resource a path names, with its route template.
enum Route<'p> {
    Healthz,
    Readyz,
    Metrics,
    Collection(EntityKind),
    Item(EntityKind, &'p str),
    SyncToJira(EntityKind, &'p str),
    SyncHistory(EntityKind, &'p str),
    Mappings,
    Mapping(&'p str),
    SyncStats,
    Bulk,
    BulkOperation(&'p str),
    RetryFailed,
    Conflicts,
    Conflict(&'p str),
    ResolveConflict(&'p str),
    Webhooks,
    WebhookStatus(&'p str),
    Connections,
    Connection(&'p str),
    ProjectSettings(&'p str),
    OAuthAuthorize,
    OAuthCallback,
    NotFound,
}

impl Route<'_> {
    /// The work item a route names, for the request's log context.
    fn item_id(&self) -> Option<&str> {
        match self {
            Self::Item(_, id) | Self::SyncToJira(_, id) | Self::SyncHistory(_, id) => Some(id),
            _ => None,
        }
    }

    fn template(&self) -> String {
        match self {
            Self::Healthz => "/healthz".into(),
            Self::Readyz => "/readyz".into(),
            Self::Metrics => "/metrics".into(),
            Self::Collection(kind) => format!("/api/{}", kind.collection()),
            Self::Item(kind, _) => format!("/api/{}/:id", kind.collection()),
            Self::SyncToJira(kind, _) => format!("/api/{}/:id/sync-to-jira", kind.collection()),
            Self::SyncHistory(kind, _) => format!("/api/{}/:id/sync-history", kind.collection()),
            Self::Mappings => "/api/jira/mappings".into(),
            Self::Mapping(_) => "/api/jira/mappings/:id".into(),
            Self::SyncStats => "/api/jira/sync/stats".into(),
            Self::Bulk => "/api/jira/sync/bulk".into(),
            Self::BulkOperation(_) => "/api/jira/sync/bulk/:operationId".into(),
            Self::RetryFailed => "/api/jira/sync/retry-failed".into(),
            Self::Conflicts => "/api/jira/conflicts".into(),
            Self::Conflict(_) => "/api/jira/conflicts/:id".into(),
            Self::ResolveConflict(_) => "/api/jira/conflicts/:id/resolve".into(),
            Self::Webhooks => "/api/jira/webhooks".into(),
            Self::WebhookStatus(_) => "/api/jira/webhooks/:eventId/status".into(),
            Self::Connections => "/api/jira/connections".into(),
            Self::Connection(_) => "/api/jira/connections/:id".into(),
            Self::ProjectSettings(_) => "/api/jira/projects/:key/settings".into(),
            Self::OAuthAuthorize => "/api/jira/oauth/authorize".into(),
            Self::OAuthCallback => "/api/jira/oauth/callback".into(),
            Self::NotFound => "unmatched".into(),
        }
    }
}

fn route(path: &str) -> Route<'_> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match segments.as_slice() {
        ["healthz"] => Route::Healthz,
        ["readyz"] => Route::Readyz,
        ["metrics"] => Route::Metrics,
        ["api", "jira", "webhooks"] => Route::Webhooks,
        ["api", "jira", "webhooks", id, "status"] => Route::WebhookStatus(id),
        ["api", "jira", "connections"] => Route::Connections,
        ["api", "jira", "connections", id] => Route::Connection(id),
        ["api", "jira", "projects", key, "settings"] => Route::ProjectSettings(key),
        ["api", "jira", "oauth", "authorize"] => Route::OAuthAuthorize,
        ["api", "jira", "oauth", "callback"] => Route::OAuthCallback,
        ["api", "jira", "mappings"] => Route::Mappings,
        ["api", "jira", "mappings", id] => Route::Mapping(id),
        ["api", "jira", "sync", "stats"] => Route::SyncStats,
        ["api", "jira", "sync", "bulk"] => Route::Bulk,
        ["api", "jira", "sync", "bulk", id] => Route::BulkOperation(id),
        ["api", "jira", "sync", "retry-failed"] => Route::RetryFailed,
        ["api", "jira", "conflicts"] => Route::Conflicts,
        ["api", "jira", "conflicts", id] => Route::Conflict(id),
        ["api", "jira", "conflicts", id, "resolve"] => Route::ResolveConflict(id),
        ["api", collection, id, "sync-to-jira"] => {
            EntityKind::from_collection(collection).map_or(Route::NotFound, |kind| Route::SyncToJira(kind, id))
        }
        ["api", collection, id, "sync-history"] => {
            EntityKind::from_collection(collection).map_or(Route::NotFound, |kind| Route::SyncHistory(kind, id))
        }
        ["api", collection] => EntityKind::from_collection(collection).map_or(Route::NotFound, Route::Collection),
        ["api", collection, id] => {
            EntityKind::from_collection(collection).map_or(Route::NotFound, |kind| Route::Item(kind, id))
        }
        _ => Route::NotFound,
    }
}

/// Answers one request.
pub async fn handle(state: &AppState, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let route = route(&path);
    let method = req.method().clone();
    let template = route.template();
    let span = tracing::info_span!(
        "request",
        method = %method,
        route = %template,
        arkhitekton.id = tracing::field::Empty
    );
    if let Some(id) = route.item_id() {
        span.record("arkhitekton.id", id);
    }
    let started = Instant::now();
    let response = AssertUnwindSafe(dispatch(state, &route, req).instrument(span.clone()))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(ApiError::internal(anyhow::anyhow!("handler panicked"))))
        .unwrap_or_else(ApiError::into_response);
    crate::metrics::http_request(&template, method.as_str(), response.status().as_u16(), started.elapsed());
    span.in_scope(|| {
        tracing::debug!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "served"
        );
    });
    response
}

async fn dispatch(
    state: &AppState,
    route: &Route<'_>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let method = req.method().clone();
    match (route, method) {
        (Route::Healthz, Method::GET) => Ok(health::healthz()),
        (Route::Readyz, Method::GET) => Ok(health::readyz(state).await),
        (Route::Metrics, Method::GET) => Ok(health::metrics(state).await),
        (Route::Healthz | Route::Readyz | Route::Metrics, _) => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        (Route::Collection(kind), Method::GET) => work_items::list(state, *kind, &req).await,
        (Route::Collection(kind), Method::POST) => work_items::create(state, *kind, req).await,
        (Route::Collection(_), _) => Err(ApiError::MethodNotAllowed { allow: "GET, POST" }),
        (Route::Item(kind, id), Method::GET) => work_items::get(state, *kind, id).await,
        (Route::Item(kind, id), Method::PATCH) => work_items::patch(state, *kind, id, req).await,
        (Route::Item(kind, id), Method::DELETE) => work_items::delete(state, *kind, id).await,
        (Route::Item(..), _) => Err(ApiError::MethodNotAllowed { allow: "GET, PATCH, DELETE" }),
        (Route::SyncToJira(kind, id), Method::POST) => sync::sync_to_jira(state, *kind, id, req).await,
        (Route::SyncHistory(kind, id), Method::GET) => sync::history(state, *kind, id, &req).await,
        (Route::Mappings, Method::POST) => mappings::create(state, req).await,
        (Route::Mapping(id), Method::GET) => mappings::get(state, id).await,
        (Route::Mapping(id), Method::DELETE) => mappings::delete(state, id).await,
        (Route::SyncStats, Method::GET) => sync::stats(state).await,
        (Route::Bulk, Method::POST) => bulk::create(state, req).await,
        (Route::BulkOperation(id), Method::GET) => bulk::get(state, id).await,
        (Route::RetryFailed, Method::POST) => sync::retry_failed(state, req).await,
        (Route::Conflicts, Method::GET) => conflicts::list(state, &req).await,
        (Route::Conflict(id), Method::GET) => conflicts::get(state, id).await,
        (Route::ResolveConflict(id), Method::POST) => conflicts::resolve(state, id, req).await,
        (Route::SyncToJira(..) | Route::Mappings | Route::Bulk | Route::RetryFailed | Route::ResolveConflict(_), _) => {
            Err(ApiError::MethodNotAllowed { allow: "POST" })
        }
        (
            Route::SyncHistory(..) | Route::SyncStats | Route::BulkOperation(_) | Route::Conflicts | Route::Conflict(_),
            _,
        ) => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        (Route::Mapping(_), _) => Err(ApiError::MethodNotAllowed { allow: "GET, DELETE" }),
        (Route::Webhooks, Method::POST) => webhooks::receive(state, req).await,
        (Route::Webhooks, _) => Err(ApiError::MethodNotAllowed { allow: "POST" }),
        (Route::WebhookStatus(id), Method::GET) => webhooks::status(state, id).await,
        (Route::WebhookStatus(_), _) => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        (Route::Connections, Method::GET) => connections::list(state).await,
        (Route::Connections, Method::POST) => connections::create(state, req).await,
        (Route::Connections, _) => Err(ApiError::MethodNotAllowed { allow: "GET, POST" }),
        (Route::Connection(id), Method::GET) => connections::get(state, id).await,
        (Route::Connection(id), Method::PATCH) => connections::patch(state, id, req).await,
        (Route::Connection(id), Method::DELETE) => connections::delete(state, id).await,
        (Route::Connection(_), _) => Err(ApiError::MethodNotAllowed { allow: "GET, PATCH, DELETE" }),
        (Route::ProjectSettings(key), Method::GET) => projects::get(state, key).await,
        (Route::ProjectSettings(key), Method::PUT) => projects::put(state, key, req).await,
        (Route::ProjectSettings(_), _) => Err(ApiError::MethodNotAllowed { allow: "GET, PUT" }),
        (Route::OAuthAuthorize, Method::GET) => oauth::authorize(state, &req).await,
        (Route::OAuthCallback, Method::GET) => oauth::callback(state, &req).await,
        (Route::OAuthAuthorize | Route::OAuthCallback, _) => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        (Route::NotFound, method) => Err(ApiError::NotFound(format!("no route for {method} {}", req.uri().path()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_routes_are_named_by_template_not_by_id() {
        let r = route("/api/user-stories/US-K7V595F");
        assert!(matches!(r, Route::Item(EntityKind::UserStory, "US-K7V595F")));
        assert_eq!(r.template(), "/api/user-stories/:id");
        assert!(matches!(route("/api/epics/"), Route::Collection(EntityKind::Epic)));
        assert!(matches!(route("/api/widgets"), Route::NotFound));
        assert!(matches!(route("/api/defects/DEF-1/extra"), Route::NotFound));
        let r = route("/api/epics/EPIC-K7V595F/sync-to-jira");
        assert!(matches!(r, Route::SyncToJira(EntityKind::Epic, "EPIC-K7V595F")));
        assert_eq!(r.template(), "/api/epics/:id/sync-to-jira");
        assert!(matches!(route("/api/jira/conflicts/x/resolve"), Route::ResolveConflict("x")));
        assert!(matches!(route("/api/widgets/W-1/sync-history"), Route::NotFound));
    }
}
