//! The team runs every task exactly once, whether its workers are spinning,
//! asleep or owned by another caller, and hands panics back to the caller.

use dspgd_backend::team;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Runs `tasks` tasks and returns how often each index ran.
fn counts(tasks: usize) -> Vec<usize> {
    let hits: Vec<AtomicUsize> = (0..tasks).map(|_| AtomicUsize::new(0)).collect();
    team::run(tasks, &|i| {
        hits[i].fetch_add(1, Ordering::Relaxed);
    });
    hits.into_iter().map(AtomicUsize::into_inner).collect()
}

#[test]
fn every_task_runs_once_back_to_back() {
    for round in 0..2000 {
        let tasks = [0, 1, 2, 3, 5][round % 5];
        assert_eq!(counts(tasks), vec![1; tasks], "round {round}");
    }
}

#[test]
fn every_task_runs_once_after_the_workers_fell_asleep() {
    for round in 0..4 {
        std::thread::sleep(team::SPIN * 3);
        assert_eq!(counts(3), vec![1; 3], "round {round}");
    }
}

#[test]
fn for_each_mut_reaches_every_item_once() {
    let mut items: Vec<(usize, u32)> = vec![(usize::MAX, 0); 4];
    for _ in 0..100 {
        team::for_each_mut(&mut items, |i, (who, n)| {
            *who = i;
            *n += 1;
        });
    }
    assert_eq!(items, (0..4).map(|i| (i, 100)).collect::<Vec<_>>());
}

#[test]
fn a_task_may_run_tasks_of_its_own() {
    let total = AtomicUsize::new(0);
    team::run(2, &|_| {
        team::run(3, &|j| {
            total.fetch_add(j + 1, Ordering::Relaxed);
        });
    });
    assert_eq!(total.into_inner(), 12);
}

#[test]
fn callers_on_several_threads_each_get_all_their_tasks() {
    std::thread::scope(|s| {
        for t in 0..3 {
            s.spawn(move || {
                for round in 0..300 {
                    assert_eq!(counts(2 + t), vec![1; 2 + t], "caller {t}, round {round}");
                }
            });
        }
    });
}

#[test]
fn a_panic_reaches_the_caller_after_the_running_tasks_and_the_team_still_works() {
    for bad in [0, 1, 2] {
        let (started, finished) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let err = catch_unwind(AssertUnwindSafe(|| {
            team::run(3, &|i| {
                started.fetch_add(1, Ordering::Relaxed);
                if i == bad {
                    panic!("task {i} failed");
                }
                std::thread::sleep(Duration::from_millis(2));
                finished.fetch_add(1, Ordering::Relaxed);
            });
        }))
        .expect_err("the panic must reach the caller");
        let msg = err.downcast_ref::<String>().map(String::as_str).unwrap_or("");
        assert_eq!(msg, format!("task {bad} failed"));
        // Every task that started has ended (tasks not started when the
        // caller's own task panicked are skipped).
        let (started, finished) = (started.into_inner(), finished.into_inner());
        assert_eq!(finished + 1, started, "task {bad} panicked");
        if bad != 0 {
            assert_eq!(started, 3, "only the caller's own panic skips tasks");
        }
        assert_eq!(counts(3), vec![1; 3], "after task {bad} panicked");
    }
}

#[test]
fn a_panic_in_a_run_inside_a_task_keeps_its_message() {
    // The inner run finds the team owned by the outer one: scoped threads.
    let err = catch_unwind(AssertUnwindSafe(|| {
        team::run(2, &|i| {
            team::run(2, &|j| {
                if i == 1 && j == 1 {
                    panic!("inner task failed");
                }
            });
        });
    }))
    .expect_err("the panic must reach the caller");
    assert_eq!(err.downcast_ref::<&str>(), Some(&"inner task failed"));
    assert_eq!(counts(2), vec![1; 2]);
}
