//! Dynamic webhooks (Cloud, OAuth apps): register, list, refresh, delete.
//! They expire after 30 days; `PUT /webhook/refresh` extends them (there is
//! no per-webhook refresh URL; NOTES.md item 5). Data Center has only
//! admin webhooks, configured by a Jira administrator.

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::Error;
use super::client::{JiraClient, Repeat};
use super::connection::Flavor;
use super::requests;

/// The outcome of one registration: a webhook id or Jira's reasons.
pub type Registration = Result<i64, Vec<String>>;

/// A registered webhook as `GET /webhook` lists it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredWebhook {
    pub id: i64,
    #[serde(default)]
    pub jql_filter: String,
    #[serde(default)]
    pub events: Vec<String>,
    /// Epoch millis or an ISO time, depending on the deployment.
    #[serde(default)]
    pub expiration_date: Value,
}

/// Parses `POST /webhook`'s `webhookRegistrationResult`.
pub fn parse_registrations(body: &Value) -> Result<Vec<Registration>, Error> {
    let results = body["webhookRegistrationResult"]
        .as_array()
        .ok_or_else(|| Error::Decode("webhook registration: no webhookRegistrationResult".into()))?;
    Ok(results
        .iter()
        .map(|r| match r["createdWebhookId"].as_i64() {
            Some(id) => Ok(id),
            None => Err(r["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e.as_str().map(str::to_owned))
                .collect()),
        })
        .collect())
}

/// Parses one page of `GET /webhook`: the webhooks and whether it is the last.
pub fn parse_webhook_page(body: &Value) -> Result<(Vec<RegisteredWebhook>, bool), Error> {
    let values = serde_json::from_value(body["values"].clone()).map_err(|e| Error::Decode(format!("webhooks: {e}")))?;
    Ok((values, body["isLast"].as_bool().unwrap_or(true)))
}

impl JiraClient {
    fn require_cloud(&self) -> Result<(), Error> {
        match self.flavor {
            Flavor::Cloud => Ok(()),
            Flavor::Datacenter => Err(Error::Config("dynamic webhooks exist only on Jira Cloud".into())),
        }
    }

    pub async fn register_webhook(
        &self,
        url: &str,
        events: &[&str],
        jql: &str,
        field_ids: &[&str],
    ) -> Result<Vec<Registration>, Error> {
        self.require_cloud()?;
        let body = requests::register_webhooks_body(url, events, jql, field_ids);
        let answer = self.call(Method::POST, "webhook", &[], Some(&body), Repeat::NotBlindly).await?;
        parse_registrations(&answer)
    }

    /// Every webhook this app registered, all pages.
    pub async fn list_webhooks(&self) -> Result<Vec<RegisteredWebhook>, Error> {
        self.require_cloud()?;
        let mut all = Vec::new();
        loop {
            let query = [("startAt", all.len().to_string()), ("maxResults", "100".to_string())];
            let page = self.call(Method::GET, "webhook", &query, None, Repeat::Safe).await?;
            let (values, last) = parse_webhook_page(&page)?;
            let empty = values.is_empty();
            all.extend(values);
            if last || empty {
                return Ok(all);
            }
        }
    }

    /// Extends the webhooks' life; returns the new expiration as Jira gives it.
    pub async fn refresh_webhooks(&self, ids: &[i64]) -> Result<Value, Error> {
        self.require_cloud()?;
        let body = requests::webhook_ids_body(ids);
        let answer = self.call(Method::PUT, "webhook/refresh", &[], Some(&body), Repeat::Safe).await?;
        Ok(answer["expirationDate"].clone())
    }

    pub async fn delete_webhooks(&self, ids: &[i64]) -> Result<(), Error> {
        self.require_cloud()?;
        let body = requests::webhook_ids_body(ids);
        self.call(Method::DELETE, "webhook", &[], Some(&body), Repeat::Safe).await.map(drop)
    }
}
