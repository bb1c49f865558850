//! People: ARKHITEKTON names a person by e-mail, Jira by `accountId`
//! (Cloud) or user `name` (Data Center). `GET /user/search` turns an
//! e-mail into the user (`?query=` on Cloud, `?username=` on Data Center,
//! both matching e-mail prefixes), and each answer is cached per connection
//! (the client is one per connection) for an hour, since people rarely
//! change. Cloud often hides e-mail addresses (profile visibility), so the
//! cache also remembers, the other way round, which e-mail each user we
//! looked up has: an issue that names its assignee only by `accountId` can
//! then still be mapped back.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use super::Error;
use super::client::{JiraClient, Repeat};
use super::connection::Flavor;

/// How long a found user is trusted.
pub const USER_CACHE_TTL: Duration = Duration::from_secs(3600);
/// How long "no such user" is trusted: shorter, as the person may be
/// invited to Jira soon after being named here.
pub const MISSING_USER_TTL: Duration = Duration::from_secs(300);

/// How the flavour names a user in requests: the `accountId` (Cloud) or
/// the user `name` (Data Center).
pub type UserId = String;

/// `GET /user/search`'s query for `email`.
pub fn user_search_query(flavor: Flavor, email: &str) -> Vec<(&'static str, String)> {
    let key = match flavor {
        Flavor::Cloud => "query",
        Flavor::Datacenter => "username",
    };
    vec![(key, email.to_owned()), ("maxResults", "50".to_owned())]
}

/// The user a search answer names for `email`: the active one whose
/// `emailAddress` is `email` (any case); when Jira hid every address, the
/// only user found. None when nobody (or more than one hidden person) fits.
pub fn pick_user(flavor: Flavor, answer: &Value, email: &str) -> Result<Option<UserId>, Error> {
    let users = answer.as_array().ok_or_else(|| Error::Decode("user search: not a list".into()))?;
    let id_key = match flavor {
        Flavor::Cloud => "accountId",
        Flavor::Datacenter => "name",
    };
    let active: Vec<&Value> = users.iter().filter(|u| u["active"] != Value::Bool(false)).collect();
    let id = |u: &Value| u[id_key].as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    if let Some(exact) =
        active.iter().find(|u| u["emailAddress"].as_str().is_some_and(|e| e.eq_ignore_ascii_case(email)))
    {
        return Ok(id(exact));
    }
    let hidden: Vec<&&Value> = active.iter().filter(|u| u["emailAddress"].as_str().is_none_or(str::is_empty)).collect();
    Ok(match (active.len(), hidden.as_slice()) {
        (1, [only]) => id(only),
        _ => None,
    })
}

/// One connection's people, both ways.
#[derive(Debug, Default)]
pub struct UserCache {
    /// Lower-cased e-mail → when looked up, and the user (None: nobody).
    by_email: Mutex<HashMap<String, (Instant, Option<UserId>)>>,
    /// User → e-mail, learnt from lookups and from issues that show it.
    emails: Mutex<HashMap<UserId, String>>,
}

impl UserCache {
    /// The cached answer for `email`, if still trusted.
    pub fn fresh(&self, email: &str) -> Option<Option<UserId>> {
        let by_email = self.by_email.lock().unwrap_or_else(|e| e.into_inner());
        let (at, user) = by_email.get(&email.to_lowercase())?;
        let ttl = if user.is_some() { USER_CACHE_TTL } else { MISSING_USER_TTL };
        (at.elapsed() < ttl).then(|| user.clone())
    }

    pub fn store(&self, email: &str, user: Option<UserId>) {
        if let Some(id) = &user {
            self.learn(id, email);
        }
        self.by_email.lock().unwrap_or_else(|e| e.into_inner()).insert(email.to_lowercase(), (Instant::now(), user));
    }

    /// Remembers that `id` has `email` (Jira showed both).
    pub fn learn(&self, id: &str, email: &str) {
        self.emails.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_owned(), email.to_owned());
    }

    /// The e-mail of a user we have seen with one.
    pub fn email_of(&self, id: &str) -> Option<String> {
        self.emails.lock().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }
}

impl JiraClient {
    /// The Jira user with this e-mail, from the cache or `GET /user/search`;
    /// None when Jira has nobody with it.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserId>, Error> {
        if let Some(cached) = self.users.fresh(email) {
            return Ok(cached);
        }
        let query = user_search_query(self.flavor, email);
        let answer = self.call(Method::GET, "user/search", &query, None, Repeat::Safe).await?;
        let user = pick_user(self.flavor, &answer, email)?;
        self.users.store(email, user.clone());
        Ok(user)
    }

    /// The e-mail of a user (by `accountId` or `name`) this process has seen.
    pub fn known_email(&self, id: &str) -> Option<String> {
        self.users.email_of(id)
    }

    /// Records a user's e-mail seen on an issue.
    pub fn learn_user(&self, id: &str, email: &str) {
        self.users.learn(id, email);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_user_with_that_email_is_picked_among_prefix_matches() {
        let answer = json!([
            {"accountId": "a-1", "emailAddress": "jane.doe@example.com.au", "active": true},
            {"accountId": "a-2", "emailAddress": "Jane.Doe@example.com", "active": true},
        ]);
        assert_eq!(pick_user(Flavor::Cloud, &answer, "jane.doe@example.com").unwrap(), Some("a-2".into()));
        let dc = json!([{"name": "jane", "key": "JIRAUSER1", "emailAddress": "jane@example.com"}]);
        assert_eq!(pick_user(Flavor::Datacenter, &dc, "jane@example.com").unwrap(), Some("jane".into()));
    }

    #[test]
    fn a_single_hidden_match_is_taken_but_ambiguity_and_inactivity_are_not() {
        let one = json!([{"accountId": "a-1", "active": true}]);
        assert_eq!(pick_user(Flavor::Cloud, &one, "x@example.com").unwrap(), Some("a-1".into()));
        let two = json!([{"accountId": "a-1"}, {"accountId": "a-2"}]);
        assert_eq!(pick_user(Flavor::Cloud, &two, "x@example.com").unwrap(), None);
        let other = json!([{"accountId": "a-1", "emailAddress": "y@example.com"}]);
        assert_eq!(pick_user(Flavor::Cloud, &other, "x@example.com").unwrap(), None);
        let gone = json!([{"accountId": "a-1", "emailAddress": "x@example.com", "active": false}]);
        assert_eq!(pick_user(Flavor::Cloud, &gone, "x@example.com").unwrap(), None);
        assert!(pick_user(Flavor::Cloud, &json!({}), "x@example.com").is_err());
    }

    #[test]
    fn the_cache_answers_both_ways_and_forgets_misses_sooner() {
        let cache = UserCache::default();
        assert_eq!(cache.fresh("Jane@Example.com"), None);
        cache.store("Jane@Example.com", Some("a-1".into()));
        cache.store("nobody@example.com", None);
        assert_eq!(cache.fresh("jane@example.com"), Some(Some("a-1".into())));
        assert_eq!(cache.fresh("nobody@example.com"), Some(None));
        assert_eq!(cache.email_of("a-1").as_deref(), Some("Jane@Example.com"));
        assert!(MISSING_USER_TTL < USER_CACHE_TTL);
    }
}
