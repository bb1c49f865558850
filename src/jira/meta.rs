//! Create metadata: which fields an issue type of a project takes, and the
//! allowed values of its select lists (`GET /issue/createmeta/{project}/
//! issuetypes` and `…/issuetypes/{id}`, on Cloud and on Data Center 8.4+).
//! Both are paged (`startAt`, `maxResults`); Cloud names the page's items
//! `issueTypes` and `fields`, Data Center `values`.

use reqwest::Method;
use serde_json::Value;

use super::Error;
use super::client::{JiraClient, Repeat};

/// One field of an issue type's create screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMeta {
    pub id: String,
    pub name: String,
    /// The allowed values' names (`value` of an option, `name` of a
    /// priority), when Jira lists them.
    pub allowed: Option<Vec<String>>,
}

/// The items of one page of a createmeta answer, and whether it was the
/// last page.
pub fn page_items<'a>(body: &'a Value, key: &str) -> Result<(&'a [Value], bool), Error> {
    let items = [key, "values", "results"]
        .iter()
        .find_map(|k| body[*k].as_array())
        .ok_or_else(|| Error::Decode(format!("createmeta: no `{key}` in the answer")))?;
    let start = body["startAt"].as_u64().unwrap_or(0);
    let total = body["total"].as_u64();
    let last = body["isLast"].as_bool().unwrap_or(false)
        || items.is_empty()
        || total.is_none_or(|t| start + items.len() as u64 >= t);
    Ok((items, last))
}

/// A field of a createmeta answer.
pub fn field_meta(v: &Value) -> Option<FieldMeta> {
    let id = v["fieldId"].as_str().or_else(|| v["key"].as_str())?.to_owned();
    let name = v["name"].as_str().unwrap_or(&id).to_owned();
    let allowed = v["allowedValues"].as_array().map(|values| {
        values.iter().filter_map(|a| a["value"].as_str().or_else(|| a["name"].as_str()).map(str::to_owned)).collect()
    });
    Some(FieldMeta { id, name, allowed })
}

impl JiraClient {
    /// The fields an issue of type `issue_type` (by name, any case) takes
    /// in `project`; `NotFound` when the project has no such issue type.
    pub async fn create_meta(&self, project: &str, issue_type: &str) -> Result<Vec<FieldMeta>, Error> {
        let types = self.pages(&format!("issue/createmeta/{project}/issuetypes"), "issueTypes").await?;
        let type_id = types
            .iter()
            .find(|t| t["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(issue_type)))
            .and_then(|t| t["id"].as_str())
            .ok_or_else(|| Error::NotFound(format!("issue type {issue_type} in project {project}")))?
            .to_owned();
        let fields = self.pages(&format!("issue/createmeta/{project}/issuetypes/{type_id}"), "fields").await?;
        Ok(fields.iter().filter_map(field_meta).collect())
    }

    async fn pages(&self, rest: &str, key: &str) -> Result<Vec<Value>, Error> {
        let mut out = Vec::new();
        loop {
            let query = [("startAt", out.len().to_string()), ("maxResults", "50".to_owned())];
            let body = self.call(Method::GET, rest, &query, None, Repeat::Safe).await?;
            let (items, last) = page_items(&body, key)?;
            out.extend(items.iter().cloned());
            if last {
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pages_end_at_the_total_or_when_jira_says_so() {
        let cloud = json!({"startAt": 0, "maxResults": 2, "total": 3, "fields": [{"fieldId": "a"}, {"fieldId": "b"}]});
        assert!(!page_items(&cloud, "fields").unwrap().1);
        let dc = json!({"startAt": 2, "maxResults": 2, "total": 3, "isLast": true, "values": [{"fieldId": "c"}]});
        let (items, last) = page_items(&dc, "fields").unwrap();
        assert_eq!((items.len(), last), (1, true));
        assert!(page_items(&json!({"errorMessages": []}), "fields").is_err());
    }

    #[test]
    fn allowed_values_are_option_values_or_names() {
        let select = json!({"fieldId": "customfield_10005", "name": "Defect Type",
                            "allowedValues": [{"value": "UI", "id": "1"}, {"value": "Logic", "id": "2"}]});
        assert_eq!(field_meta(&select).unwrap().allowed, Some(vec!["UI".to_owned(), "Logic".to_owned()]));
        let priority = json!({"fieldId": "priority", "name": "Priority", "allowedValues": [{"name": "High"}]});
        assert_eq!(field_meta(&priority).unwrap().allowed, Some(vec!["High".to_owned()]));
        assert_eq!(field_meta(&json!({"fieldId": "summary", "name": "Summary"})).unwrap().allowed, None);
    }
}
