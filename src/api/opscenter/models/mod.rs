//! The OpsCenter request and response bodies, named and cased as the seeds write them and
//! prefixed `OpsCenter` in the document. Unknown request keys are accepted (and not read), as
//! OpsCenter scripts send more than they need; every documented option has a field.

pub mod backups;
pub mod clusters;
pub mod destinations;
pub mod lenient;
pub mod pit;
pub mod requests;

pub use backups::*;
pub use clusters::*;
pub use destinations::*;
pub use lenient::{DestinationSet, Names, NewId, Numeric, RequestId, Truthy, names, numeric};
pub use pit::*;
pub use requests::*;
