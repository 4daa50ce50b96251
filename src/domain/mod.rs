//! The unified model every dialect translates to and from. No web or database types here.

pub mod agent;
pub mod archive;
pub mod backup;
pub mod destination;
pub mod identity;
pub mod operation;
pub mod plan;
pub mod source;
pub mod state;

/// A name a user gives (a source, destination, plan or backup): 1 to 255 characters, none of them
/// control characters, so a name can never break a header line, a log line or a path.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.chars().count() > 255 {
        return Err(format!("{what} needs 1 to 255 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("{what} may not contain control characters (line breaks, tabs, ...)"));
    }
    Ok(())
}
