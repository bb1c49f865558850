//! ARKHITEKTON's work items as arksync knows them: the three kinds, their
//! fields, and the rules their values obey.
//!
//! The kinds share most of their shape, so each is described by a static
//! table of [`FieldSpec`]s rather than three copies of the same code: the
//! API parses input against it ([`input`]), the database layer builds its
//! column lists from it, and rows are turned back into JSON by it.

pub mod ids;
pub mod input;

/// Workflow states of every work item (the database CHECKs the same set).
pub const STATUSES: &[&str] = &["backlog", "in-progress", "in-review", "done", "cancelled"];
/// Priorities of stories and epics, and severities of defects.
pub const PRIORITIES: &[&str] = &["critical", "high", "medium", "low"];
/// `sync_status` of a work item.
pub const SYNC_STATUSES: &[&str] = &["synced", "pending", "error", "disabled"];
/// `sync_source` of a work item: who made its last change.
pub const SYNC_SOURCES: &[&str] = &["arkhitekton", "jira", "manual"];

/// The three kinds of work item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    UserStory,
    Defect,
    Epic,
}

/// What values a field accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A string of at most `max` characters; `blank_ok` allows "" and spaces.
    Text { max: usize, blank_ok: bool },
    /// One of a fixed set of strings.
    Enum(&'static [&'static str]),
    /// A whole number in `min..=max`.
    Int { min: i32, max: i32 },
    /// An e-mail address (how Jira identifies people).
    Email,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A list of distinct non-empty strings (labels, file paths).
    StringList,
    /// The id of another work item of the given kind.
    Ref(EntityKind),
}

/// One writable field of a work item.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// Name in the API's JSON (camelCase).
    pub json: &'static str,
    /// Column in the database.
    pub column: &'static str,
    pub ty: FieldType,
    /// Whether `null` is a value (the column is nullable).
    pub nullable: bool,
    /// Whether a create must give it.
    pub required: bool,
}

const fn field(json: &'static str, column: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec { json, column, ty, nullable: false, required: false }
}

const fn optional(json: &'static str, column: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec { json, column, ty, nullable: true, required: false }
}

const TITLE: FieldSpec = FieldSpec {
    json: "title",
    column: "title",
    ty: FieldType::Text { max: 500, blank_ok: false },
    nullable: false,
    required: true,
};
const MARKDOWN: FieldType = FieldType::Text { max: 200_000, blank_ok: true };
const NOTE: FieldType = FieldType::Text { max: 20_000, blank_ok: true };
const SHORT: FieldType = FieldType::Text { max: 200, blank_ok: false };

const USER_STORY_FIELDS: &[FieldSpec] = &[
    TITLE,
    field("description", "description", MARKDOWN),
    field("acceptanceCriteria", "acceptance_criteria", MARKDOWN),
    field("status", "status", FieldType::Enum(STATUSES)),
    field("priority", "priority", FieldType::Enum(PRIORITIES)),
    optional("storyPoints", "story_points", FieldType::Int { min: 0, max: 1000 }),
    optional("assignee", "assignee", FieldType::Email),
    optional("epicId", "epic_id", FieldType::Ref(EntityKind::Epic)),
    field("labels", "labels", FieldType::StringList),
    field("relatedFiles", "related_files", FieldType::StringList),
];

const DEFECT_FIELDS: &[FieldSpec] = &[
    TITLE,
    field("description", "description", MARKDOWN),
    field("status", "status", FieldType::Enum(STATUSES)),
    field("severity", "severity", FieldType::Enum(PRIORITIES)),
    optional("defectType", "defect_type", SHORT),
    optional("rootCause", "root_cause", NOTE),
    optional("resolutionNotes", "resolution_notes", NOTE),
    optional("relatedStoryId", "related_story_id", FieldType::Ref(EntityKind::UserStory)),
    optional("assignee", "assignee", FieldType::Email),
    field("labels", "labels", FieldType::StringList),
];

const EPIC_FIELDS: &[FieldSpec] = &[
    TITLE,
    field("description", "description", MARKDOWN),
    field("status", "status", FieldType::Enum(STATUSES)),
    field("priority", "priority", FieldType::Enum(PRIORITIES)),
    optional("valueStream", "value_stream", SHORT),
    optional("businessValue", "business_value", NOTE),
    optional("targetDate", "target_date", FieldType::Date),
    optional("owner", "owner", FieldType::Email),
    field("labels", "labels", FieldType::StringList),
];

/// Fields the server sets; input naming them is refused, not ignored.
pub const READ_ONLY_FIELDS: &[&str] = &[
    "id",
    "jiraIssueKey",
    "jiraIssueId",
    "lastSyncedAt",
    "syncSource",
    "syncStatus",
    "syncError",
    "createdAt",
    "updatedAt",
    "jiraMapping",
];

impl EntityKind {
    pub const ALL: [EntityKind; 3] = [EntityKind::UserStory, EntityKind::Defect, EntityKind::Epic];

    /// The table holding this kind.
    pub fn table(self) -> &'static str {
        match self {
            Self::UserStory => "user_stories",
            Self::Defect => "defects",
            Self::Epic => "epics",
        }
    }

    /// The API collection, `/api/<this>`.
    pub fn collection(self) -> &'static str {
        match self {
            Self::UserStory => "user-stories",
            Self::Defect => "defects",
            Self::Epic => "epics",
        }
    }

    /// The id prefix, as in `US-K7V595F`.
    pub fn id_prefix(self) -> &'static str {
        match self {
            Self::UserStory => "US",
            Self::Defect => "DEF",
            Self::Epic => "EPIC",
        }
    }

    /// The kind whose [`Self::type_name`] is `name`.
    pub fn from_type_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.type_name() == name)
    }

    /// The name the mapping table uses (`arkhitekton_type`).
    pub fn type_name(self) -> &'static str {
        match self {
            Self::UserStory => "user_story",
            Self::Defect => "defect",
            Self::Epic => "epic",
        }
    }

    /// Human name for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Self::UserStory => "user story",
            Self::Defect => "defect",
            Self::Epic => "epic",
        }
    }

    pub fn fields(self) -> &'static [FieldSpec] {
        match self {
            Self::UserStory => USER_STORY_FIELDS,
            Self::Defect => DEFECT_FIELDS,
            Self::Epic => EPIC_FIELDS,
        }
    }

    pub fn field(self, json: &str) -> Option<&'static FieldSpec> {
        self.fields().iter().find(|f| f.json == json)
    }

    pub fn from_collection(segment: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.collection() == segment)
    }

    /// The kind an id belongs to, from its prefix.
    pub fn from_id(id: &str) -> Option<Self> {
        let prefix = id.split_once('-')?.0;
        Self::ALL.into_iter().find(|k| k.id_prefix() == prefix)
    }

    /// The person field a list can be filtered by (`assignee`, or `owner`
    /// for epics).
    pub fn person_field(self) -> &'static FieldSpec {
        let name = if self == Self::Epic { "owner" } else { "assignee" };
        self.field(name).expect("every kind has a person field")
    }
}
