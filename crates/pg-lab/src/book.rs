//! `pg book`: runs every chapter's experiment, writes its figures and tables
//! into `book/src/generated`, ships plotly.js and the Play page's WebAssembly
//! module with the book, and builds the HTML.
//! Each chapter crate owns its experiments and presentation; this file only
//! lists the chapters.

use crate::cli::BookArgs;
use crate::files::{clear_leftovers, replace_dir_then, write_atomic};
use crate::interrupt::{doing, remove_on_interrupt};
use pg_core::report::Report;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A chapter's entry point: the files it generates and the function that writes them.
pub struct Chapter {
    /// The crate that owns the chapter's experiments (a folder of `crates/`).
    pub krate: &'static str,
    /// Files outside the crates the experiments read, relative to the workspace root.
    pub extra_inputs: &'static [&'static str],
    /// Every file `write` generates; the chapter's Markdown may include only these.
    pub generated: &'static [&'static str],
    /// Runs the chapter's experiments and writes its files.
    pub write: fn(&mut dyn Report) -> Result<(), String>,
}

/// The book's chapters, in order.
pub const CHAPTERS: &[Chapter] = &[
    chapter("pg-likelihood-ratio", pg_likelihood_ratio::book::GENERATED, pg_likelihood_ratio::book::write),
    chapter("pg-causality", pg_causality::book::GENERATED, pg_causality::book::write),
    chapter("pg-baselines", pg_baselines::book::GENERATED, pg_baselines::book::write),
    chapter("pg-surrogate", pg_surrogate::book::GENERATED, pg_surrogate::book::write),
    chapter(
        "pg-importance-sampling",
        pg_importance_sampling::book::GENERATED,
        pg_importance_sampling::book::write,
    ),
    Chapter {
        extra_inputs: &["peers/peers.json"],
        ..chapter("pg-kl-constraint", pg_kl_constraint::book::GENERATED, pg_kl_constraint::book::write)
    },
    Chapter {
        extra_inputs: &["peers/peers.json"],
        ..chapter("pg-speed", pg_speed::book::GENERATED, pg_speed::book::write)
    },
    chapter("pg-play", pg_play::book::GENERATED, pg_play::book::write),
];

const fn chapter(
    krate: &'static str,
    generated: &'static [&'static str],
    write: fn(&mut dyn Report) -> Result<(), String>,
) -> Chapter {
    Chapter { krate, extra_inputs: &[], generated, write }
}

/// The workspace the `pg` binary was built from.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Copies the book's sources (not its build, generated files, cache or
/// plotly.js) into `dest/book` and links the workspace's crates beside it,
/// so that its relative includes resolve: a book that `pg book --book-dir`
/// builds without touching the workspace's. Returns its directory.
#[cfg(unix)]
pub fn scratch_copy(dest: &Path) -> std::io::Result<PathBuf> {
    fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let name = entry.file_name();
            if ["build", "generated", ".cache", STAGING, "plotly.min.js"].iter().any(|n| name == *n) {
                continue;
            }
            let (src, dst) = (entry.path(), to.join(&name));
            if src.is_dir() { copy_dir(&src, &dst)? } else { std::fs::copy(&src, &dst).map(|_| ())? }
        }
        Ok(())
    }
    let book = dest.join("book");
    copy_dir(&workspace_root().join("book"), &book)?;
    std::os::unix::fs::symlink(workspace_root().join("crates"), dest.join("crates"))?;
    book.canonicalize()
}

/// Whether `name` is a file some chapter generates.
pub fn is_generated(name: &str) -> bool {
    CHAPTERS.iter().any(|c| c.generated.contains(&name))
}

/// Writes generated files atomically into one directory, with a spinner and
/// the time of each experiment on stderr.
struct FileReport {
    krate: &'static str,
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
        doing(format!(
            "pg book, in {}'s experiment \"{what}\": every file written so far is whole, the HTML book is the \
             previous one, and the chapter reruns next time",
            self.krate
        ));
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

/// Where the HTML book is built before it replaces the previous one.
const STAGING: &str = ".build-new";

/// What `pg book` did with each chapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The experiments ran and wrote the chapter's files.
    Ran,
    /// Nothing that feeds the chapter changed: its files were reused.
    Reused,
}

pub fn run(args: &BookArgs) -> Result<Vec<Outcome>, String> {
    let dir = match &args.book_dir {
        Some(d) => d.clone(),
        None => workspace_root().join("book"),
    };
    if !dir.join("book.toml").is_file() {
        return Err(format!(
            "{} holds no book.toml: pass --book-dir with the book's directory",
            dir.display()
        ));
    }
    let dir = dir.canonicalize().map_err(|e| format!("cannot open {}: {e}", dir.display()))?;
    let generated = dir.join("src/generated");
    // The keys of the cached results live beside the book's sources, outside
    // src/ (whose other files mdBook copies into the built book).
    let stamps = dir.join(".cache");
    for d in [&generated, &stamps] {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    // What a killed run left over: temporary files, a half-built book.
    for d in [&generated, &stamps, &dir.join("src/assets"), &dir.join("src/assets/play")] {
        clear_leftovers(d)?;
    }
    let staging = dir.join(STAGING);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| format!("cannot remove {}: {e}", staging.display()))?;
    }
    doing("pg book, before any experiment ran: the book's files are as they were");
    write_plotly_js(&dir.join("src/assets/plotly.min.js"))?;
    let started = Instant::now();
    let module = crate::play::build_module()?;
    crate::play::write_module_script(&dir.join("src/assets/play/pg_play_wasm.js"), &module)?;
    eprintln!(
        "built the Play page's WebAssembly module ({} kB) in {:.1} s",
        module.len() / 1000,
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let mut outcomes = Vec::with_capacity(CHAPTERS.len());
    for chapter in CHAPTERS {
        outcomes.push(run_chapter(chapter, &generated, &stamps, args)?);
    }
    eprintln!("ran every chapter's experiments in {:.1} s", started.elapsed().as_secs_f64());

    let started = Instant::now();
    let mut book = mdbook_driver::MDBook::load(&dir).map_err(|e| format!("cannot load the book: {e:#}"))?;
    // mdBook empties its build directory first: it builds beside it, and the
    // whole new book replaces the previous one at once.
    let build = dir.join(&book.config.build.build_dir);
    book.config.build.build_dir = PathBuf::from(STAGING);
    doing(format!(
        "pg book, building the HTML book: every chapter's files are whole, and {} is the previous book",
        build.display()
    ));
    // mdBook drops a whole [output.html] table with an unknown key, silently,
    // and builds with its defaults (a playground fetched from the network).
    book.config
        .get::<mdbook_driver::config::HtmlConfig>("output.html")
        .map_err(|e| format!("{}: [output.html] is invalid: {e:#}", dir.join("book.toml").display()))?;
    book.with_preprocessor(crate::checks::Checks { root: workspace_root() });
    book.with_preprocessor(crate::math::Katex);
    // Ctrl-C from here removes the half-built book (SIGKILL leaves it to the next run).
    remove_on_interrupt(Some(staging.clone()));
    book.build().map_err(|e| format!("cannot build the book: {e:#}"))?;
    let done = format!("pg book, after the new HTML book replaced the previous one in {}", build.display());
    replace_dir_then(&staging, &build, done)?;
    remove_on_interrupt(None);
    eprintln!("built the HTML book in {:.1} s", started.elapsed().as_secs_f64());
    println!("{}", build.join("index.html").display());
    Ok(outcomes)
}

/// Runs one chapter's experiments, unless its stamp says its files are up to date.
fn run_chapter(
    chapter: &Chapter,
    generated: &Path,
    stamps: &Path,
    args: &BookArgs,
) -> Result<Outcome, String> {
    let settings = crate::cache::Settings {
        quick: args.quick,
        compiler: env!("PG_RUSTC_VERSION"),
        extra_inputs: chapter.extra_inputs,
    };
    // The sources `pg` was built from; without them nothing can be reused.
    let key = crate::cache::lookup(env!("PG_CHAPTER_SOURCES"), chapter.krate)
        .map(|sources| crate::cache::key(&workspace_root(), sources, &settings));
    let stamp = crate::cache::stamp_path(stamps, chapter.krate);
    if let Some(key) = &key
        && !args.fresh
        && crate::cache::is_fresh(stamps, generated, chapter.krate, key, chapter.generated)
    {
        eprintln!(
            "{}: nothing it depends on changed; its results are reused (--fresh reruns)",
            chapter.krate
        );
        return Ok(Outcome::Reused);
    }
    // The stamp goes first and comes back last: an interrupted run leaves none.
    match std::fs::remove_file(&stamp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("cannot remove {}: {e}", stamp.display()));
        }
        _ => {}
    }
    doing(format!("pg book, in {}'s experiments: the HTML book is the previous one", chapter.krate));
    let mut report = FileReport {
        krate: chapter.krate,
        dir: generated.to_path_buf(),
        quick: args.quick,
        current: None,
        allowed: chapter.generated,
    };
    let result = (chapter.write)(&mut report);
    report.finish();
    result?;
    if let Some(key) = key {
        write_atomic(&stamp, key.as_bytes())?;
    }
    Ok(Outcome::Ran)
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
