//! `pg book`: runs every chapter's experiment, writes its figures and tables
//! into `book/src/generated`, ships plotly.js with the book, and builds the HTML.

use crate::cli::BookArgs;
use crate::files::write_atomic;
use pg_likelihood_ratio::experiments as ch1;
use std::path::Path;
use std::time::Instant;

/// Every file `pg book` generates; the book may include only these.
pub const GENERATED: &[&str] = &[
    "01-error-vs-n.html",
    "01-error-table.md",
    "01-slope.txt",
    "01-learning-curves.html",
    "01-learning-table.md",
    "01-bc-link.html",
    "01-bc-table.md",
    "01-checks.md",
];

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

    chapter_1(&generated, args.quick)?;

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

fn write(dir: &Path, name: &str, contents: &str) -> Result<(), String> {
    debug_assert!(GENERATED.contains(&name), "{name} is missing from GENERATED");
    write_atomic(&dir.join(name), contents.as_bytes())
}

fn figure(plot: &plotly::Plot, id: &str) -> String {
    format!("<div class=\"figure\">\n{}\n</div>\n", plot.to_inline_html(Some(id)))
}

/// Runs one experiment behind a spinner (on a terminal), then reports its time.
fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let spinner = indicatif::ProgressBar::new_spinner().with_message(what.to_string());
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let t = Instant::now();
    let out = f();
    spinner.finish_and_clear();
    eprintln!("{what} ... {:.1} s", t.elapsed().as_secs_f64());
    out
}

/// The chapter's statistical checks, rerun for the book: each row is what the
/// corresponding test asserts.
fn chapter_1_checks(dir: &Path, quick: bool) -> Result<(), String> {
    use ch1::broken::{FirstStepOnly, PastRewards, SignFlipped};
    use pg_likelihood_ratio::Reinforce;
    let n = if quick { 2_000 } else { 20_000 };
    let rows = timed("chapter 1: unbiasedness z-tests", || {
        [
            ("REINFORCE", ch1::unbiasedness_max_z(&Reinforce, n, 1)),
            ("broken: sign flipped", ch1::unbiasedness_max_z(&SignFlipped, n, 1)),
            ("broken: rewards before each step", ch1::unbiasedness_max_z(&PastRewards, n, 1)),
            ("broken: first action only", ch1::unbiasedness_max_z(&FirstStepOnly, n, 1)),
        ]
    });
    let mut table = format!(
        "| estimator | largest $\\lvert z\\rvert$ over components ({n} trajectories) | verdict at $\\lvert z\\rvert > 5$ |\n|---|---:|---|\n"
    );
    for (name, z) in rows {
        let verdict = if z > 5.0 { "rejected" } else { "accepted" };
        table += &format!("| {name} | {z:.1} | {verdict} |\n");
    }
    let v = timed("chapter 1: variance of the stay MDP", || {
        ch1::stay_variance(0.5, if quick { 20_000 } else { 200_000 }, 11)
    });
    table += &format!(
        "\nStay MDP at $\\theta = {}$: closed-form variance {:.2}, simulated {:.2} over {} episodes; \
         closed-form $dJ/d\\theta$ = {:.2}, simulated mean {:.2}.\n",
        v.theta,
        v.closed_form,
        v.variance,
        v.n,
        pg_core::env::Stay::gradient(v.theta),
        v.mean
    );
    write(dir, "01-checks.md", &table)
}

fn chapter_1(dir: &Path, quick: bool) -> Result<(), String> {
    chapter_1_checks(dir, quick)?;
    let ns: &[usize] = if quick { &[10, 100, 1000] } else { &[10, 30, 100, 300, 1000, 3000] };
    let reps = if quick { 50 } else { 200 };
    let e = timed("chapter 1: estimator error against N", || ch1::error_vs_batch_size(ns, reps, 1));
    write(dir, "01-error-vs-n.html", &figure(&e.plot(), "fig-01-error-vs-n"))?;
    let mut table =
        String::from("| N | RMS error | exact $\\sqrt{\\operatorname{tr}\\Sigma/N}$ |\n|---:|---:|---:|\n");
    for (n, r) in e.ns.iter().zip(&e.rmse) {
        table += &format!("| {n} | {r:.4} | {:.4} |\n", (e.trace_cov / *n as f64).sqrt());
    }
    table += &format!(
        "\n{reps} batches per row; $\\operatorname{{tr}}\\Sigma = {:.3}$ by enumeration.\n",
        e.trace_cov
    );
    write(dir, "01-error-table.md", &table)?;
    write(dir, "01-slope.txt", &format!("{:.3}", e.slope))?;

    let setup = if quick {
        ch1::CartPoleSetup { seeds: vec![0, 1], iters: 10, batch: 8, ..Default::default() }
    } else {
        ch1::CartPoleSetup { lr: 0.003, batch: 32, iters: 200, ..Default::default() }
    };
    let logs = timed(&format!("chapter 1: CartPole learning curves ({} seeds)", setup.seeds.len()), || {
        ch1::cartpole_learning_curves(&setup)
    })
    .map_err(|e| e.to_string())?;
    write(
        dir,
        "01-learning-curves.html",
        &figure(&ch1::learning_curve_plot(&logs), "fig-01-learning-curves"),
    )?;
    let mut table = format!(
        "Settings: hidden layers {:?}, {} episodes per batch, Adam step size {}, {} iterations.\n\n\
         | seed | env steps | mean return, last 100 episodes | first reached 475 at (env steps) |\n|---:|---:|---:|---:|\n",
        setup.hidden, setup.batch, setup.lr, setup.iters
    );
    for (seed, log) in setup.seeds.iter().zip(&logs) {
        let solved = log.solved_at(475.0, 100).map_or("never".to_string(), |e| e.env_steps.to_string());
        table +=
            &format!("| {seed} | {} | {:.1} | {solved} |\n", log.env_steps(), log.final_mean_return(100));
    }
    write(dir, "01-learning-table.md", &table)?;

    let episodes = if quick { 50 } else { 200 };
    let link = timed("chapter 1: behaviour-cloning link", || ch1::behaviour_cloning_link(3, episodes, 0.5));
    write(dir, "01-bc-link.html", &figure(&link.plot(), "fig-01-bc-link"))?;
    let table = format!(
        "| step along | correlation of return with change in log-likelihood per step |\n|---|---:|\n\
         | REINFORCE gradient | {:.3} |\n| behaviour-cloning gradient | {:.3} |\n\n\
         {episodes} episodes. The all-weights-one gradient matches central differences of the mean \
         log-likelihood to a scaled error of {:.1e}.\n",
        ch1::correlation(&link.returns, &link.reinforce_change),
        ch1::correlation(&link.returns, &link.bc_change),
        link.bc_identity_error
    );
    write(dir, "01-bc-table.md", &table)
}
