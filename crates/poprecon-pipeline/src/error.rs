use std::path::PathBuf;

/// What is wrong with a pipeline file or the files it names. Messages name the pipeline
/// file and the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{}`: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("`{}`: `{key}` {message}", path.display())]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("division table: {message}")]
    DivisionFile { message: String },
    #[error("division table `{}`, line {line}: {message}", path.display())]
    Division {
        path: PathBuf,
        line: u64,
        message: String,
    },
}
