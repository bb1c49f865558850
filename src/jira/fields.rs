//! Field discovery: our logical fields (`ARKHITEKTON ID`, `Story Points`,
//! …, Appendix A of the spec) have a different `customfield_NNNNN` id on
//! every Jira site, so they are resolved by name from `GET /field` and
//! cached for an hour per connection (spec, "Caching Strategy"), since
//! custom fields are rarely created and every push needs the map.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use super::Error;

/// How long a connection's field map is trusted.
pub const FIELD_CACHE_TTL: Duration = Duration::from_secs(3600);

/// The custom fields arksync writes, by the name they carry in Jira.
pub mod names {
    pub const ARKHITEKTON_ID: &str = "ARKHITEKTON ID";
    pub const SYNC_SOURCE: &str = "Sync Source";
    pub const ACCEPTANCE_CRITERIA: &str = "Acceptance Criteria";
    pub const RELATED_FILES: &str = "Related Files";
    pub const DEFECT_TYPE: &str = "Defect Type";
    pub const ROOT_CAUSE: &str = "Root Cause";
    pub const VALUE_STREAM: &str = "Value Stream";
    pub const BUSINESS_VALUE: &str = "Business Value";
    pub const STORY_POINTS: &str = "Story Points";
    /// Defects' resolution notes. Jira's own `resolution` cannot hold them:
    /// its `description` is the resolution *type's* shared text.
    pub const RESOLUTION_NOTES: &str = "Resolution Notes";
    /// Data Center only: Cloud uses `parent` for epics.
    pub const EPIC_LINK: &str = "Epic Link";

    /// Fields a site may lack without failing pushes: they are skipped
    /// (with one warning). The others, above all ARKHITEKTON ID and Sync
    /// Source, which creates and loop prevention depend on, stay required.
    pub const OPTIONAL: &[&str] = &[RESOLUTION_NOTES];
}

/// Logs once per process that the site lacks an optional field.
pub fn warn_missing_once(name: &str) {
    static WARNED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if warned.get_or_insert_with(HashSet::new).insert(name.to_lowercase()) {
        tracing::warn!(field = name, "the Jira site has no such field; it is not synced (create it: spec, Appendix A)");
    }
}

/// One entry of `GET /field`, the parts we read.
#[derive(Debug, Clone, Deserialize)]
pub struct FieldDetails {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub custom: bool,
    #[serde(default)]
    pub schema: Option<Value>,
}

/// Field names (case-insensitive) to ids, for one site.
#[derive(Debug, Clone, Default)]
pub struct FieldMap {
    by_name: HashMap<String, FieldDetails>,
}

impl FieldMap {
    /// Builds the map from `GET /field`'s answer. When two fields share a
    /// name, the custom one wins (ours are custom), then the lowest id.
    pub fn from_response(body: &Value) -> Result<Self, Error> {
        let list: Vec<FieldDetails> =
            serde_json::from_value(body.clone()).map_err(|e| Error::Decode(format!("GET /field: {e}")))?;
        let mut by_name: HashMap<String, FieldDetails> = HashMap::new();
        for f in list {
            let key = f.name.to_lowercase();
            let keep_old = by_name.get(&key).is_some_and(|old| (old.custom, &f.id) >= (f.custom, &old.id));
            if !keep_old {
                by_name.insert(key, f);
            }
        }
        Ok(Self { by_name })
    }

    /// The field called `name` on this site.
    pub fn get(&self, name: &str) -> Option<&FieldDetails> {
        self.by_name.get(&name.to_lowercase())
    }

    /// The id of the field called `name`, or a configuration error that
    /// says which field the site lacks.
    pub fn id(&self, name: &str) -> Result<&str, Error> {
        self.get(name).map(|f| f.id.as_str()).ok_or_else(|| {
            Error::Config(format!("the Jira site has no field named {name:?} (create it: spec, Appendix A)"))
        })
    }

    /// `cf[10001]` for `customfield_10001`: how JQL names a custom field
    /// without depending on its display name.
    pub fn jql_clause(&self, name: &str) -> Result<String, Error> {
        let id = self.id(name)?;
        Ok(id.strip_prefix("customfield_").map_or_else(|| id.to_string(), |n| format!("cf[{n}]")))
    }
}

/// A connection's cached map.
#[derive(Debug, Default)]
pub struct FieldCache {
    entry: Mutex<Option<(Instant, Arc<FieldMap>)>>,
}

impl FieldCache {
    /// The cached map, if younger than the TTL.
    pub fn fresh(&self) -> Option<Arc<FieldMap>> {
        let entry = self.entry.lock().unwrap_or_else(|e| e.into_inner());
        entry.as_ref().filter(|(at, _)| at.elapsed() < FIELD_CACHE_TTL).map(|(_, map)| map.clone())
    }

    pub fn store(&self, map: FieldMap) -> Arc<FieldMap> {
        let map = Arc::new(map);
        *self.entry.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), map.clone()));
        map
    }

    /// Forgets the map (e.g. after Jira rejected a field id).
    pub fn invalidate(&self) {
        *self.entry.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn logical_fields_resolve_by_name_whatever_their_id() {
        let body = json!([
            {"id": "summary", "name": "Summary", "custom": false},
            {"id": "customfield_10420", "name": "ARKHITEKTON ID", "custom": true},
        ]);
        let map = FieldMap::from_response(&body).unwrap();
        assert_eq!(map.id("arkhitekton id").unwrap(), "customfield_10420");
        assert_eq!(map.jql_clause(names::ARKHITEKTON_ID).unwrap(), "cf[10420]");
        assert!(map.id(names::VALUE_STREAM).unwrap_err().to_string().contains("Value Stream"));
    }
}
