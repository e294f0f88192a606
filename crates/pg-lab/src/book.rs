//! `pg book`: runs every chapter's experiment, writes its figures and tables
//! into `book/src/generated`, ships plotly.js with the book, and builds the HTML.
//! Each chapter crate owns its experiments and presentation; this file only
//! lists the chapters.

use crate::cli::BookArgs;
use crate::files::write_atomic;
use pg_core::report::Report;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A chapter's entry point: the files it generates and the function that writes them.
pub struct Chapter {
    /// Every file `write` generates; the chapter's Markdown may include only these.
    pub generated: &'static [&'static str],
    /// Runs the chapter's experiments and writes its files.
    pub write: fn(&mut dyn Report) -> Result<(), String>,
}

/// The book's chapters, in order.
pub const CHAPTERS: &[Chapter] = &[
    Chapter { generated: pg_likelihood_ratio::book::GENERATED, write: pg_likelihood_ratio::book::write },
    Chapter { generated: pg_causality::book::GENERATED, write: pg_causality::book::write },
    Chapter { generated: pg_baselines::book::GENERATED, write: pg_baselines::book::write },
    Chapter { generated: pg_surrogate::book::GENERATED, write: pg_surrogate::book::write },
    Chapter {
        generated: pg_importance_sampling::book::GENERATED,
        write: pg_importance_sampling::book::write,
    },
    Chapter { generated: pg_kl_constraint::book::GENERATED, write: pg_kl_constraint::book::write },
    Chapter { generated: pg_speed::book::GENERATED, write: pg_speed::book::write },
];

/// Whether `name` is a file some chapter generates.
pub fn is_generated(name: &str) -> bool {
    CHAPTERS.iter().any(|c| c.generated.contains(&name))
}

/// Writes generated files atomically into one directory, with a spinner and
/// the time of each experiment on stderr.
struct FileReport {
    dir: PathBuf,
    quick: bool,
    current: Option<(String, Instant, indicatif::ProgressBar)>,
    allowed: &'static [&'static str],
}

impl FileReport {
    fn finish(&mut self) {
        if let Some((what, started, spinner)) = self.current.take() {
            spinner.finish_and_clear();
            eprintln!("{what} ... {:.1} s", started.elapsed().as_secs_f64());
        }
    }
}

impl Report for FileReport {
    fn quick(&self) -> bool {
        self.quick
    }

    fn start(&mut self, what: &str) {
        self.finish();
        let spinner = indicatif::ProgressBar::new_spinner().with_message(what.to_string());
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
        self.current = Some((what.to_string(), Instant::now(), spinner));
    }

    fn write(&mut self, name: &str, contents: &str) -> Result<(), String> {
        if !self.allowed.contains(&name) {
            return Err(format!("{name} is not in its chapter's list of generated files"));
        }
        write_atomic(&self.dir.join(name), contents.as_bytes())
    }
}

pub fn run(args: &BookArgs) -> Result<(), String> {
    let dir = match &args.book_dir {
        Some(d) => d.clone(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../book"),
    };
    if !dir.join("book.toml").is_file() {
        return Err(format!(
            "{} holds no book.toml: pass --book-dir with the book's directory",
            dir.display()
        ));
    }
    let dir = dir.canonicalize().map_err(|e| format!("cannot open {}: {e}", dir.display()))?;
    let generated = dir.join("src/generated");
    std::fs::create_dir_all(&generated).map_err(|e| format!("cannot create {}: {e}", generated.display()))?;
    write_plotly_js(&dir.join("src/assets/plotly.min.js"))?;

    let started = Instant::now();
    for chapter in CHAPTERS {
        let mut report = FileReport {
            dir: generated.clone(),
            quick: args.quick,
            current: None,
            allowed: chapter.generated,
        };
        let result = (chapter.write)(&mut report);
        report.finish();
        result?;
    }
    eprintln!("ran every chapter's experiments in {:.1} s", started.elapsed().as_secs_f64());

    let started = Instant::now();
    let mut book = mdbook_driver::MDBook::load(&dir).map_err(|e| format!("cannot load the book: {e:#}"))?;
    book.with_preprocessor(crate::math::Katex);
    book.build().map_err(|e| format!("cannot build the book: {e:#}"))?;
    eprintln!("built the HTML book in {:.1} s", started.elapsed().as_secs_f64());
    println!("{}", dir.join("build/index.html").display());
    Ok(())
}

/// plotly.js, taken from the copy the `plotly` crate embeds, so that the
/// book's figures work offline.
fn write_plotly_js(path: &Path) -> Result<(), String> {
    let sources = plotly::Plot::offline_js_sources();
    let open = "<script type=\"text/javascript\">";
    let start = sources.find(open).ok_or("the plotly crate's embedded sources changed shape")? + open.len();
    let len =
        sources[start..].find("</script>").ok_or("the plotly crate's embedded sources changed shape")?;
    let js = &sources[start..start + len];
    if std::fs::read(path).ok().as_deref() != Some(js.as_bytes()) {
        write_atomic(path, js.as_bytes())?;
    }
    Ok(())
}
