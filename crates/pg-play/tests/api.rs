//! The module's interface, called natively as the page calls it in WebAssembly.

use pg_play::api;
use pg_play::args::parse_line;
use pg_play::session::{Session, iteration_row};

#[test]
fn the_interface_trains_the_same_run_as_a_session() {
    let line = "--algo reward-to-go --batch-steps 2000 --seed 3 --threads 1 --max-env-steps 20000";
    api::start(line).expect("the run starts");
    let mut rows = vec![];
    while let Some(step) = api::step().expect("a step") {
        rows.push(step["row"].clone());
    }
    let mut session = Session::new(&parse_line(line).unwrap()).unwrap();
    let mut expected = vec![];
    while !session.finished() {
        expected.push(iteration_row(session.step().unwrap()));
    }
    assert_eq!(rows, expected);
    assert_eq!(api::summary().unwrap()["env_steps"], session.summary()["env_steps"]);
}

#[test]
fn the_c_functions_pass_flags_and_answers_through_memory() {
    let line = b"--algo reinforce --seed 1 --iters 2";
    let ptr = api::pg_alloc(line.len());
    // SAFETY: `ptr` has room for `line.len()` bytes, and is freed once with that length.
    unsafe {
        std::ptr::copy_nonoverlapping(line.as_ptr(), ptr, line.len());
        assert_eq!(api::pg_start(ptr, line.len()), 0);
        api::pg_free(ptr, line.len());
    }
    let answer = || {
        // SAFETY: the answer lives in the module's memory until the next call.
        let bytes = unsafe { std::slice::from_raw_parts(api::pg_text_ptr(), api::pg_text_len()) };
        serde_json::from_slice::<serde_json::Value>(bytes).expect("the answer is JSON")
    };
    assert_eq!(answer()["algo"], "reinforce");
    assert_eq!(api::pg_step(), 0);
    assert_eq!(answer()["row"]["iter"], 0);
    assert_eq!(api::pg_step(), 0);
    assert_eq!(api::pg_step(), 2, "two iterations were asked for");
    assert_eq!(api::pg_frames(), 0);
    let frames = answer();
    let first = &frames[0];
    assert!(first[0].as_f64().unwrap().abs() <= 0.05 && first[1].as_f64().unwrap().abs() <= 0.05, "{first}");
}

#[test]
fn bad_flags_are_named_and_nothing_runs() {
    let e = api::start("--algo nope").unwrap_err();
    assert!(e.contains("nope") && e.contains("reward-to-go"), "{e}");
    let e = api::start("--algo trpo --lr 0.1").unwrap_err();
    assert!(e.contains("--lr") && e.contains("--delta"), "{e}");
    let e = api::start("--out x.json").unwrap_err();
    assert!(e.contains("--out"), "{e}");
    let e = api::step().unwrap_err();
    assert!(e.contains("pg_start"), "no run was started on this thread: {e}");
}

#[test]
fn only_cartpole_runs_on_raw_observations_are_drawn() {
    api::start("--algo reinforce --env mdp --iters 1").unwrap();
    assert_eq!(api::frames().unwrap(), serde_json::json!([]));
    api::start("--algo ppo --iters 1").unwrap();
    let frames = api::frames().unwrap();
    assert!(frames.as_array().is_some_and(|f| f.len() >= 10), "an episode lasts at least 9 steps");
}

#[test]
fn until_solved_stops_at_the_iteration_that_solves() {
    let line = "--algo reward-to-go --batch-steps 5000 --seed 0 --threads 1 --max-env-steps 600000";
    let run = |line: &str| {
        let mut session = Session::new(&parse_line(line).unwrap()).unwrap();
        session.run().unwrap();
        (session.summary(), session.iterations())
    };
    let (free, all) = run(line);
    let (until, first) = run(&format!("{line} --until-solved"));
    let solved = until["solved_at_steps"].as_u64().expect("seed 0 solves within the budget");
    assert_eq!(free["solved_at_steps"].as_u64(), Some(solved), "the same run, stopped earlier");
    let (all, first) = (all.as_array().unwrap(), first.as_array().unwrap());
    assert!(first.len() < all.len(), "it stopped before the budget");
    assert_eq!(&all[..first.len()], &first[..], "the iterations up to the stop are the same");
    let last = first.last().unwrap()["env_steps"].as_u64().unwrap();
    let before = first[first.len() - 2]["env_steps"].as_u64().unwrap();
    assert!(
        before < solved && solved <= last,
        "the last iteration is the one that solved: {before} < {solved} <= {last}"
    );
    let e = api::start("--env pendulum --until-solved").unwrap_err();
    assert!(e.contains("--until-solved") && e.contains("cartpole"), "{e}");
}

#[test]
fn a_run_that_diverges_stops_and_names_its_knob() {
    let mut session = Session::from_line("--env pendulum --lr 1e6 --iters 50 --batch 2").unwrap();
    let err = session.run().unwrap_err();
    assert!(
        err.contains("NaN or infinite") && err.contains("try a smaller --lr than this run's 1000000"),
        "{err}"
    );
    assert!(session.finished(), "a stopped run is finished");
    let stopped = session.summary()["stopped"].clone();
    assert_eq!(stopped["knob"], "--lr");
    assert_eq!(stopped["iteration"].as_u64(), Some(session.log().iterations.len() as u64));
    assert!(session.step().unwrap_err().contains("stopped"), "no step after the stop");
    let fine = Session::from_line("--env mdp --iters 2").unwrap();
    assert_eq!(fine.summary()["stopped"], serde_json::Value::Null);
}
