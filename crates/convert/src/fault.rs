//! Containing bugs: the text of a caught panic, for the error document of the records whose
//! processing hit it.

use std::any::Any;

/// The text of a caught panic's payload.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// The message of an error document for records whose processing hit a bug.
pub fn bug_message(stage: &str, payload: &(dyn Any + Send)) -> String {
    format!(
        "a bug in Sluice: {stage} panicked ({}); the record is kept here intact, please report it",
        panic_message(payload)
    )
}
