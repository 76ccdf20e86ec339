//! Sluice's benches: criterion benches in `benches/`, the profiling and end-to-end examples in
//! `examples/`. Data comes from `sluice-datagen`.
pub use sluice_datagen::telemetry;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sluice_datagen::Shape;

/// The repository's `schemas/` directory.
pub fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

/// `shape`'s Glue table as (database, table), from its path under `schemas/`.
pub fn glue_table(shape: Shape) -> (String, String) {
    let path = Path::new(shape.table());
    let name =
        |p: Option<&std::ffi::OsStr>| p.expect("a table path").to_string_lossy().into_owned();
    (
        name(path.parent().and_then(Path::file_name)),
        name(path.file_stem()),
    )
}

/// `sluice serve` with `config`, state under `data_dir`, the repository's schemas, on a free
/// port; stdout piped (it prints the address it listens on).
pub fn serve_command(sluice: &str, config: &Path, data_dir: &Path) -> Command {
    let mut command = Command::new(sluice);
    command
        .arg("serve")
        .arg("--config")
        .arg(config)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--schemas")
        .arg(schemas_dir())
        .stdout(Stdio::piped());
    command
}
