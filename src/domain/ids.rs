//! ARKHITEKTON ids: `US-`, `DEF-` or `EPIC-` and 7 characters of Crockford
//! base-32 (`0-9`, `A-Z` without `I L O U`), e.g. `US-K7V595F`. The database
//! makes them (`arksync_new_id`) so rows written from psql get them too.

use super::EntityKind;

/// Crockford's base-32 alphabet, as in the migration.
const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const BODY_LEN: usize = 7;

/// True when `id` is a well-formed id of `kind`.
pub fn is_valid(kind: EntityKind, id: &str) -> bool {
    let Some(body) = id.strip_prefix(kind.id_prefix()).and_then(|rest| rest.strip_prefix('-')) else {
        return false;
    };
    body.len() == BODY_LEN && body.chars().all(|c| ALPHABET.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specs_example_id_is_valid() {
        assert!(is_valid(EntityKind::UserStory, "US-K7V595F"));
        assert!(is_valid(EntityKind::Defect, "DEF-0000000"));
        assert!(is_valid(EntityKind::Epic, "EPIC-ZZZZZZZ"));
    }

    #[test]
    fn wrong_prefix_length_or_letters_are_invalid() {
        assert!(!is_valid(EntityKind::Defect, "US-K7V595F"));
        assert!(!is_valid(EntityKind::UserStory, "US-K7V595"));
        assert!(!is_valid(EntityKind::UserStory, "US-K7V595FF"));
        assert!(!is_valid(EntityKind::UserStory, "US-K7V59IF"), "I is not in Crockford's alphabet");
        assert!(!is_valid(EntityKind::UserStory, "us-k7v595f"));
    }
}
