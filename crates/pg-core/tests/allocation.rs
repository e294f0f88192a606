//! The hot loops allocate nothing once their buffers have grown: sampling an
//! action reuses the thread's activation buffers, and a fresh batch takes
//! the buffers of one dropped earlier on the same thread (all but the short
//! list of its layer widths). Counted by this test binary's allocator, in
//! calls and bytes, per thread (tests run side by side).

use ndarray::{Array2, array};
use pg_core::policy::{Categorical, Mlp, MlpBatch, Policy};
use pg_core::seeded;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    let _ = BYTES.try_with(|n| n.set(n.get() + bytes));
}

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's layout is passed on as it came.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// How many allocations `f` makes on this thread, and how many bytes they ask for.
fn allocations(f: impl FnOnce()) -> (usize, usize) {
    let before = (ALLOCATIONS.with(Cell::get), BYTES.with(Cell::get));
    f();
    (ALLOCATIONS.with(Cell::get) - before.0, BYTES.with(Cell::get) - before.1)
}

#[test]
fn sampling_an_action_allocates_nothing_after_the_first() {
    let policy = Categorical::mlp(4, &[16, 16], 3, &mut seeded(1));
    let obs = array![0.1, -0.2, 0.3, 0.05];
    let mut rng = seeded(2);
    policy.sample(obs.view(), &mut rng);
    let n = allocations(|| {
        for _ in 0..100 {
            policy.sample_with_log_prob(obs.view(), &mut rng);
        }
    });
    assert_eq!(n, (0, 0), "allocations (calls, bytes) in 100 samples");
}

#[test]
fn a_fresh_batch_reuses_the_buffers_of_a_dropped_one() {
    let net = Mlp::new(4, &[16, 16], 2);
    let params = net.init(1.0, &mut seeded(3));
    let mut transposed = Vec::new();
    net.transpose_weights(&params, &mut transposed);
    let x = Array2::from_shape_fn((8, 4), |(i, j)| (i * 4 + j) as f64 * 0.1);
    // Four batches' buffers are kept per thread: grow five and drop them,
    // then four fresh batches find buffers and allocate only
    // their list of four layer widths (32 bytes), not the 8 × (4 + 16 + 16 + 2)
    // activations (2,432 bytes).
    let widths = std::mem::size_of_val(net.sizes());
    let activations = x.nrows() * net.sizes().iter().sum::<usize>() * std::mem::size_of::<f64>();
    let grown: Vec<MlpBatch> = (0..5)
        .map(|_| {
            let mut b = MlpBatch::default();
            net.forward_append_few(&transposed, x.view(), &mut b);
            b
        })
        .collect();
    let mut fresh = Vec::with_capacity(4);
    drop(grown);
    let n = allocations(|| {
        for _ in 0..4 {
            let mut b = MlpBatch::default();
            net.forward_append_few(&transposed, x.view(), &mut b);
            fresh.push(b);
        }
    });
    assert_eq!(n, (4, 4 * widths), "allocations (calls, bytes) in four fresh batches");
    // The fifth dropped batch's buffers were not kept: a fifth fresh batch grows its own.
    let n = allocations(|| {
        let mut b = MlpBatch::default();
        net.forward_append_few(&transposed, x.view(), &mut b);
        fresh.push(b);
    });
    assert!(n.1 > activations, "a fifth batch with no spare buffers allocates its activations: {n:?}");
}
