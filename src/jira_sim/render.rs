//! Issue, user, status and project JSON in Jira's REST shape. `version` 3
//! renders rich text as ADF (Cloud REST); 2 renders it as wiki markup (Data
//! Center REST and every webhook, which Jira sends in v2 form).

use serde_json::{Map, Value, json};

use super::catalog::{self, Kind};
use super::clock::jira_time;
use super::config::{Flavor, SimUser};
use super::state::Sim;
use super::store::{Issue, Store};
use super::wiki;

pub struct View<'a> {
    pub sim: &'a Sim,
    pub version: u8,
}

impl View<'_> {
    pub(super) fn api(&self) -> String {
        format!("{}/rest/api/{}", self.sim.base_url, self.version)
    }

    /// A user as Jira shows it. Cloud users are known by `accountId`;
    /// Data Center users by `name`/`key`, with no `accountId`. Both show
    /// `emailAddress` unless the user hides it (privacy), which `/myself`
    /// (`with_email`) ignores.
    pub fn user(&self, u: &SimUser, with_email: bool) -> Value {
        if self.sim.config.flavor == Flavor::Datacenter {
            return self.dc_user(u, with_email || !u.email_hidden);
        }
        let mut v = json!({
            "self": format!("{}/user?accountId={}", self.api(), u.account_id.replace(':', "%3A")),
            "accountId": u.account_id,
            "avatarUrls": avatars(&format!("{}/secure/useravatar?accountId={}", self.sim.base_url, u.account_id)),
            "displayName": u.display_name,
            "active": true,
            "timeZone": "Etc/UTC",
            "accountType": "atlassian",
        });
        if with_email || !u.email_hidden {
            v["emailAddress"] = json!(u.email);
        }
        if with_email {
            v["locale"] = json!("en_US");
        }
        v
    }

    fn dc_user(&self, u: &SimUser, with_email: bool) -> Value {
        let name = dc_user_name(u);
        let mut v = json!({
            "self": format!("{}/user?username={name}", self.api()),
            "name": name, "key": name, "emailAddress": u.email,
            "avatarUrls": avatars(&format!("{}/secure/useravatar?ownerId={name}", self.sim.base_url)),
            "displayName": u.display_name, "active": true, "timeZone": "Etc/UTC",
        });
        if !with_email && let Some(o) = v.as_object_mut() {
            o.remove("emailAddress");
        }
        v
    }

    pub fn user_by_id(&self, account_id: Option<&str>) -> Value {
        account_id.and_then(|id| self.sim.user(id)).map_or(Value::Null, |u| self.user(u, false))
    }

    pub fn status(&self, id: &str) -> Value {
        let s = catalog::status(id);
        let (key, name, color) = match s.category {
            2 => ("new", "To Do", "blue-gray"),
            3 => ("done", "Done", "green"),
            _ => ("indeterminate", "In Progress", "yellow"),
        };
        json!({
            "self": format!("{}/status/{}", self.api(), s.id),
            "description": "",
            "iconUrl": format!("{}/images/icons/statuses/generic.png", self.sim.base_url),
            "name": s.name,
            "id": s.id,
            "statusCategory": {
                "self": format!("{}/statuscategory/{}", self.api(), s.category),
                "id": s.category, "key": key, "colorName": color, "name": name,
            },
        })
    }

    pub fn issue_type(&self, id: &str) -> Value {
        let t = catalog::issue_type(id).unwrap_or(&catalog::ISSUE_TYPES[1]);
        json!({
            "self": format!("{}/issuetype/{}", self.api(), t.id),
            "id": t.id, "description": t.description,
            "iconUrl": format!("{}/images/icons/issuetypes/{}.svg", self.sim.base_url, t.name.to_lowercase()),
            "name": t.name, "subtask": t.hierarchy < 0, "avatarId": 10300, "hierarchyLevel": t.hierarchy,
        })
    }

    pub fn priority(&self, id: &str) -> Value {
        let (id, name) = catalog::priority(id).unwrap_or(("3", "Medium"));
        json!({
            "self": format!("{}/priority/{id}", self.api()),
            "iconUrl": format!("{}/images/icons/priorities/{}.svg", self.sim.base_url, name.to_lowercase()),
            "name": name, "id": id,
        })
    }

    pub fn project(&self, key: &str) -> Value {
        let id = self.sim.project_id(key).unwrap_or(0);
        json!({
            "self": format!("{}/project/{id}", self.api()),
            "id": id.to_string(), "key": key, "name": project_name(key),
            "projectTypeKey": "software", "simplified": false,
            "avatarUrls": avatars(&format!("{}/secure/projectavatar?pid={id}", self.sim.base_url)),
        })
    }

    /// Rich text in this view's form: ADF stays ADF in v3, becomes wiki in v2.
    pub fn rich_text(&self, stored: &Value) -> Value {
        match (self.version, stored) {
            (2, Value::Object(_)) => Value::String(wiki::from_adf(stored)),
            _ => stored.clone(),
        }
    }

    pub fn issue_self(&self, id: u64) -> String {
        format!("{}/issue/{id}", self.api())
    }

    /// `{id,key,self,fields:{summary,status,priority,issuetype}}`, the form
    /// Jira uses for parents, links and subtasks.
    pub fn issue_ref(&self, issue: &Issue) -> Value {
        json!({
            "id": issue.id.to_string(), "key": issue.key, "self": self.issue_self(issue.id),
            "fields": {
                "summary": issue.summary(), "status": self.status(&issue.status),
                "priority": self.priority(&issue.priority), "issuetype": self.issue_type(&issue.issuetype),
            },
        })
    }

    /// The whole issue; `include` decides which fields appear.
    pub fn issue(&self, store: &Store, issue: &Issue, include: &dyn Fn(&str) -> bool) -> Value {
        let mut fields = Map::new();
        for (k, v) in self.all_fields(store, issue) {
            if include(&k) {
                fields.insert(k, v);
            }
        }
        json!({
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": issue.id.to_string(), "self": self.issue_self(issue.id), "key": issue.key,
            "fields": fields,
        })
    }

    fn all_fields(&self, store: &Store, issue: &Issue) -> Vec<(String, Value)> {
        let mut f = self.system_fields(store, issue);
        for cf in catalog::CUSTOM_FIELDS {
            f.push((cf.id.to_string(), self.custom_value(cf, issue.field(cf.id))));
        }
        if self.sim.config.flavor == Flavor::Datacenter {
            f.push((catalog::EPIC_LINK.to_string(), issue.field(catalog::EPIC_LINK).cloned().unwrap_or(Value::Null)));
        } else if let Some(parent) = issue.field("parent").and_then(Value::as_str).and_then(|k| store.find(k)) {
            f.push(("parent".to_string(), self.issue_ref(parent)));
        }
        f
    }

    fn custom_value(&self, cf: &catalog::CustomField, v: Option<&Value>) -> Value {
        let Some(v) = v else { return Value::Null };
        match cf.kind {
            Kind::RichText => self.rich_text(v),
            Kind::Select(options) => {
                let value = v.as_str().unwrap_or_default();
                let id = option_id(cf.id, options, value);
                json!({ "self": format!("{}/customFieldOption/{id}", self.api()), "value": value, "id": id })
            }
            _ => v.clone(),
        }
    }

    fn system_fields(&self, store: &Store, issue: &Issue) -> Vec<(String, Value)> {
        let t = jira_time;
        let text = |k: &str| issue.field(k).map_or(Value::Null, |v| self.rich_text(v));
        let ws = |path: &str| format!("{}/issue/{}/{path}", self.api(), issue.key);
        let pairs: Vec<(&str, Value)> = vec![
            ("statuscategorychangedate", json!(t(issue.status_changed))),
            ("issuetype", self.issue_type(&issue.issuetype)),
            ("timespent", Value::Null),
            ("project", self.project(&issue.project)),
            ("fixVersions", json!([])),
            ("aggregatetimespent", Value::Null),
            ("resolution", issue.resolution.as_deref().map_or(Value::Null, |r| self.resolution(r))),
            ("resolutiondate", issue.resolved.map_or(Value::Null, |d| json!(t(d)))),
            ("workratio", json!(-1)),
            ("lastViewed", Value::Null),
            ("issuerestriction", json!({"issuerestrictions": {}, "shouldDisplay": false})),
            ("watches", json!({"self": ws("watchers"), "watchCount": 1, "isWatching": true})),
            ("created", json!(t(issue.created))),
            ("priority", self.priority(&issue.priority)),
            ("labels", issue.field("labels").cloned().unwrap_or(json!([]))),
            ("timeestimate", Value::Null),
            ("aggregatetimeoriginalestimate", Value::Null),
            ("versions", json!([])),
            ("issuelinks", self.links(store, issue)),
            ("assignee", self.user_by_id(issue.assignee.as_deref())),
            ("updated", json!(t(issue.updated))),
            ("status", self.status(&issue.status)),
            ("components", json!([])),
            ("timeoriginalestimate", Value::Null),
            ("description", text("description")),
            ("timetracking", json!({})),
            ("security", Value::Null),
            ("aggregatetimeestimate", Value::Null),
            ("attachment", json!([])),
            ("summary", json!(issue.summary())),
            ("creator", self.user_by_id(Some(&issue.creator))),
            ("subtasks", self.subtasks(store, issue)),
            ("reporter", self.user_by_id(issue.reporter.as_deref())),
            ("aggregateprogress", json!({"progress": 0, "total": 0})),
            ("environment", text("environment")),
            ("duedate", issue.field("duedate").cloned().unwrap_or(Value::Null)),
            ("progress", json!({"progress": 0, "total": 0})),
            ("votes", json!({"self": ws("votes"), "votes": 0, "hasVoted": false})),
            ("comment", json!({"comments": [], "maxResults": 0, "total": 0, "startAt": 0})),
            ("worklog", json!({"startAt": 0, "maxResults": 20, "total": 0, "worklogs": []})),
        ];
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    pub fn resolution(&self, name: &str) -> Value {
        // The description is the resolution type's, shared by every issue
        // resolved so: Jira has no per-issue resolution text.
        let id = if name == "Done" { "10000" } else { "10001" };
        let description = match name {
            "Done" => "Work has been completed on this issue.",
            "Won't Do" => "This issue won't be actioned.",
            "Duplicate" => "The problem is a duplicate of an existing issue.",
            _ => "All attempts at reproducing this issue failed, or not enough information was available.",
        };
        json!({ "self": format!("{}/resolution/{id}", self.api()), "id": id, "description": description, "name": name })
    }

    fn subtasks(&self, store: &Store, issue: &Issue) -> Value {
        Value::Array(store.subtasks_of(&issue.key).map(|i| self.issue_ref(i)).collect())
    }

    /// Links seen from `issue`: the far end appears as `outwardIssue` when
    /// `issue` is the inward side, and as `inwardIssue` otherwise.
    fn links(&self, store: &Store, issue: &Issue) -> Value {
        let links: Vec<Value> = store
            .links_of(issue.id)
            .filter_map(|l| {
                let (side, other) =
                    if l.inward == issue.id { ("outwardIssue", l.outward) } else { ("inwardIssue", l.inward) };
                let other = store.issues.get(&other)?;
                let mut v = json!({
                    "id": l.id.to_string(), "self": format!("{}/issueLink/{}", self.api(), l.id),
                    "type": self.link_type(&l.type_name),
                });
                v[side] = self.issue_ref(other);
                Some(v)
            })
            .collect();
        Value::Array(links)
    }

    pub fn link_type(&self, name: &str) -> Value {
        let (id, inward, outward) = link_type_parts(name).unwrap_or(("10003", "relates to", "relates to"));
        json!({ "id": id, "name": name, "inward": inward, "outward": outward, "self": format!("{}/issueLinkType/{id}", self.api()) })
    }
}

pub fn link_type_parts(name: &str) -> Option<(&'static str, &'static str, &'static str)> {
    Some(match name.to_ascii_lowercase().as_str() {
        "blocks" => ("10000", "is blocked by", "blocks"),
        "cloners" => ("10001", "is cloned by", "clones"),
        "duplicate" => ("10002", "is duplicated by", "duplicates"),
        "relates" => ("10003", "relates to", "relates to"),
        _ => return None,
    })
}

/// Option ids are stable: 10100 + 10 × field position + option position.
pub fn option_id(field: &str, options: &[&str], value: &str) -> String {
    let f = catalog::CUSTOM_FIELDS.iter().position(|c| c.id == field).unwrap_or(0);
    let o = options.iter().position(|o| *o == value).unwrap_or(0);
    (10100 + 10 * f + o).to_string()
}

/// A Data Center user's name (and key): the local part of the email.
pub fn dc_user_name(u: &SimUser) -> &str {
    u.email.split('@').next().unwrap_or_default()
}

pub fn project_name(key: &str) -> String {
    format!("{key} project")
}

pub fn avatars(base: &str) -> Value {
    json!({
        "48x48": format!("{base}&size=48"), "24x24": format!("{base}&size=24"),
        "16x16": format!("{base}&size=16"), "32x32": format!("{base}&size=32"),
    })
}
