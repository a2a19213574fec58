//! `ValidateCreateOptions`, `ValidateUpdateOptions` and `ValidatePatchOptions`: what the
//! handlers check in the query before they read the object (a `422` naming the options kind).

use super::objects::Query;
use crate::errors::{ApiError, cause};
use crate::patch::PatchType;
use crate::schema::FieldCause;

/// `FieldManagerMaxLength`.
const FIELD_MANAGER_MAX_LENGTH: usize = 128;

/// Which write the options are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    Create,
    Update,
    Patch(PatchType),
}

impl Write {
    fn options_kind(self) -> &'static str {
        match self {
            Self::Create => "CreateOptions",
            Self::Update => "UpdateOptions",
            Self::Patch(_) => "PatchOptions",
        }
    }
}

pub(crate) fn validate(write: Write, q: &Query) -> Result<(), ApiError> {
    let given = |key: &str| q.get(key).map(String::as_str).unwrap_or("");
    let mut causes = Vec::new();
    if let Write::Patch(pt) = write {
        if pt != PatchType::Apply {
            if q.contains_key("force") {
                causes.push(cause(
                    "FieldValueForbidden",
                    "force",
                    "Forbidden: may not be specified for non-apply patch".to_string(),
                ));
            }
        } else if given("fieldManager").is_empty() {
            causes.push(cause(
                "FieldValueRequired",
                "fieldManager",
                "Required value: is required for apply patch".to_string(),
            ));
        }
    }
    causes.extend(field_manager(given("fieldManager")));
    let dry_run = given("dryRun");
    if !dry_run.is_empty() && dry_run != "All" {
        causes.push(cause(
            "FieldValueNotSupported",
            "dryRun",
            format!("Unsupported value: []string{{{dry_run:?}}}: supported values: \"All\""),
        ));
    }
    let field_validation = given("fieldValidation");
    if !matches!(field_validation, "" | "Ignore" | "Strict" | "Warn") {
        causes.push(cause(
            "FieldValueNotSupported",
            "fieldValidation",
            format!(
                "Unsupported value: {field_validation:?}: supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""
            ),
        ));
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            write.options_kind(),
            "meta.k8s.io",
            "",
            &causes,
        ))
    }
}

/// `ValidateFieldManager`: at most 128 bytes, printable characters only.
fn field_manager(manager: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    if manager.len() > FIELD_MANAGER_MAX_LENGTH {
        causes.push(crate::validate::too_long(
            "fieldManager",
            FIELD_MANAGER_MAX_LENGTH,
        ));
    }
    for (i, c) in manager.char_indices() {
        if c.is_control() {
            causes.push(cause(
                "FieldValueInvalid",
                "fieldManager",
                format!(
                    "Invalid value: {manager:?}: invalid character U+{:04X} (at position {i})",
                    u32::from(c)
                ),
            ));
        }
    }
    causes
}
