//! `pg train`: one run, a progress bar on stderr, a JSON summary on stdout.
//! The run itself is [`pg_play::Session`], the same that the book's Play page
//! trains in the browser.

use crate::cli::TrainArgs;
use crate::files::{check_writable, write_atomic_then};
use crate::interrupt::doing;
use indicatif::{ProgressBar, ProgressStyle};
use pg_likelihood_ratio::IterStats;
use pg_play::Session;

pub fn run(args: &TrainArgs) -> Result<(), String> {
    let mut session = Session::new(args)?;
    if let Some(path) = &args.out {
        check_writable(path)?;
    }
    let bar = progress_bar(args, &session);
    let budget = session.config().max_env_steps.is_some();
    let kept = match &args.out {
        Some(path) if path.exists() => format!("{} keeps its previous contents", path.display()),
        Some(path) => format!("{} was not written", path.display()),
        None => "no file was to be written".to_string(),
    };
    let algo = &args.algo;
    doing(format!("pg train --algo {algo}, before its first iteration; {kept}"));
    let mut trained = Ok(());
    while trained.is_ok() && !session.finished() {
        trained = session.step().map(|s| {
            show_progress(&bar, budget, s);
            doing(format!(
                "pg train --algo {algo}, after iteration {} ({} environment steps); {kept}",
                s.iter + 1,
                s.env_steps
            ));
        });
    }
    bar.finish_and_clear();
    let summary = session.summary();
    if let Err(e) = trained {
        // The summary records where and why the run stopped; no file is written.
        println!("{summary}");
        return Err(e);
    }
    if let Some(path) = &args.out {
        doing(format!("pg train --algo {algo}, at its end; {kept}"));
        let mut full = summary.clone();
        full["iterations"] = session.iterations();
        let text = serde_json::to_string_pretty(&full).map_err(|e| e.to_string())?;
        let written = format!("pg train --algo {algo}, after its end; {} is written", path.display());
        write_atomic_then(path, text.as_bytes(), written)?;
    }
    println!("{summary}");
    Ok(())
}

/// A progress bar over env steps when there is a budget, over iterations otherwise (hidden with --quiet).
fn progress_bar(args: &TrainArgs, session: &Session) -> ProgressBar {
    let config = session.config();
    let (length, unit) = match config.max_env_steps {
        Some(budget) => (budget, "env steps"),
        None => (config.iters, "iters"),
    };
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(length as u64) };
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{bar:30}} {{pos}}/{{len}} {unit}  {{msg}}  [{{elapsed_precise}} < {{eta}}]"
        ))
        .expect("a valid progress template"),
    );
    bar
}

/// Moves `bar` to the end of iteration `s`, with its mean return and metrics.
/// `budget` says whether the bar counts env steps (else iterations).
fn show_progress(bar: &ProgressBar, budget: bool, s: &IterStats) {
    bar.set_position(if budget { s.env_steps } else { s.iter + 1 } as u64);
    let extra: String = s
        .update
        .metrics
        .iter()
        .filter(|(n, _)| *n != "grad_norm")
        .map(|(n, v)| format!("  {n} {v:.3}"))
        .collect();
    bar.set_message(format!("mean return {:.1}  env steps {}{extra}", s.mean_return, s.env_steps));
}
