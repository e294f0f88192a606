//! The `pg` command's library: the command line, training runs, the book
//! builder with its KaTeX and claim-marker preprocessors, and atomic result files. `pg-tests`
//! uses it to build the book into a scratch directory and check it.

pub mod bench;
pub mod book;
pub mod cache;
pub mod checks;
pub mod cli;
pub mod files;
pub mod interrupt;
pub mod math;
pub mod mutants;
pub mod play;
pub mod train_cmd;
