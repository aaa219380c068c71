//! The CPU path's threads where the browser allows shared memory (cross-origin isolated; the
//! build with wasm atomics, see `scripts/build-web.sh`): Web Workers that share the wasm memory of
//! the thread that runs the forward pass and wait for work. That thread is the app's engine worker
//! (`www/engine-worker.js`), or the bench page's own (`www/bench/`).
//!
//! A parallel call publishes its tasks, wakes the workers, takes tasks itself like any worker, and
//! then spins until the last task taken by a worker is finished (written for a page's thread,
//! which may not block). Before the workers have started, or without any, the running thread
//! simply takes every task, so nothing ever waits for a worker to appear.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use wasm_bindgen::prelude::*;

/// One parallel call's tasks, seen by the workers through [`JOB`] while the call runs.
struct Job<'a> {
    task: &'a (dyn Fn(usize) + Sync),
}

/// The current call: its generation (32 bits), its task count and the next task to take (16 bits
/// each). Taking a task is one compare-and-swap that also checks the generation, so a worker that
/// read an earlier call's state can never take a task of the next call by mistake.
static TICKET: AtomicU64 = AtomicU64::new(0);
/// The current call's generation, on its own for `memory.atomic.wait32`.
static WAKE: AtomicU32 = AtomicU32::new(0);
/// The current call's [`Job`]: valid while any of its tasks is taken but not finished.
static JOB: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());
/// Tasks of the current call finished so far.
static DONE: AtomicU32 = AtomicU32::new(0);
/// Workers that have started.
static WORKERS: AtomicUsize = AtomicUsize::new(0);
/// Set when a worker trapped: the page's thread stops waiting for it and panics.
static FAILED: AtomicBool = AtomicBool::new(false);
/// Set when the page asked to run on its own thread only ([`use_one_thread`]).
static ONE_THREAD: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Inside a task (or on a worker): nested parallel calls run inline.
    static BUSY: Cell<bool> = const { Cell::new(false) };
}

/// The most tasks one call may have (they are packed into 16 bits of [`TICKET`]).
pub const MAX_TASKS: usize = u16::MAX as usize;
/// How long a worker checks for the next call before it sleeps (parallel calls come in bursts, one
/// per layer, and waking a sleeping worker costs tens of microseconds).
const SPIN_BEFORE_SLEEP: u32 = 20_000;

/// Threads that take tasks: the page's own and the workers that have started.
#[wasm_bindgen(js_name = cpuThreads)]
pub fn count() -> usize {
    if ONE_THREAD.load(Ordering::Relaxed) {
        return 1;
    }
    1 + WORKERS.load(Ordering::Relaxed)
}

/// From now on every parallel call runs on the page's thread alone (the page's way out of a run
/// that stalls); the workers stay asleep.
pub fn use_one_thread() {
    ONE_THREAD.store(true, Ordering::Relaxed);
}

fn pack(generation: u32, tasks: usize, next: usize) -> u64 {
    (u64::from(generation) << 32) | ((tasks as u64) << 16) | next as u64
}

/// Takes the next task of call `generation`, if it has one left.
fn take(generation: u32) -> Option<usize> {
    let mut ticket = TICKET.load(Ordering::Acquire);
    loop {
        let (current, tasks, next) = (
            (ticket >> 32) as u32,
            (ticket >> 16) as u16 as usize,
            ticket as u16 as usize,
        );
        if current != generation || next >= tasks {
            return None;
        }
        match TICKET.compare_exchange_weak(ticket, ticket + 1, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => return Some(next),
            Err(seen) => ticket = seen,
        }
    }
}

/// Runs `task(i)` for every `i` in `0..tasks`, on every thread there is; returns when all are done.
pub fn run(tasks: usize, task: &(dyn Fn(usize) + Sync)) {
    assert!(tasks <= MAX_TASKS, "{tasks} tasks in one parallel call");
    if tasks <= 1 || count() == 1 || BUSY.get() {
        return (0..tasks).for_each(task);
    }
    BUSY.set(true);
    let job = Job { task };
    JOB.store(&job as *const Job as *mut (), Ordering::Relaxed);
    DONE.store(0, Ordering::Relaxed);
    let generation = WAKE.load(Ordering::Relaxed).wrapping_add(1);
    // Release: a worker that takes a task of this call sees `JOB` and `DONE` as set above.
    TICKET.store(pack(generation, tasks, 0), Ordering::Release);
    WAKE.store(generation, Ordering::Release);
    // SAFETY: `WAKE` is a live, aligned i32-sized atomic in the shared memory.
    unsafe { core::arch::wasm32::memory_atomic_notify(WAKE.as_ptr().cast(), u32::MAX) };
    let mut mine = 0;
    while let Some(i) = take(generation) {
        task(i);
        mine += 1;
    }
    DONE.fetch_add(mine, Ordering::AcqRel);
    while DONE.load(Ordering::Acquire) < tasks as u32 {
        assert!(
            !FAILED.load(Ordering::Relaxed),
            "a CPU worker thread failed (see the console)"
        );
        std::hint::spin_loop();
    }
    // Every task is finished, so no worker reads `job` any more.
    JOB.store(std::ptr::null_mut(), Ordering::Relaxed);
    BUSY.set(false);
}

/// A worker's life (called by the worker script in [`start`]; never returns): take the current
/// call's tasks, then wait for the next call.
#[wasm_bindgen(js_name = seLensCpuWorker)]
pub fn worker() {
    BUSY.set(true);
    WORKERS.fetch_add(1, Ordering::Relaxed);
    // Counted: tell the thread that started it ([`start`]'s promise).
    #[cfg(feature = "web")]
    {
        use wasm_bindgen::JsCast;
        let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
        let _ = scope.post_message(&JsValue::NULL);
    }
    loop {
        let generation = (TICKET.load(Ordering::Acquire) >> 32) as u32;
        while let Some(i) = take(generation) {
            // SAFETY: task `i` is taken and not finished, so the call that published `JOB` is
            // still waiting in `run` and its `Job` is alive.
            let job = unsafe { &*(JOB.load(Ordering::Acquire) as *const Job) };
            (job.task)(i);
            DONE.fetch_add(1, Ordering::AcqRel);
        }
        let mut spins = 0;
        while WAKE.load(Ordering::Acquire) == generation && spins < SPIN_BEFORE_SLEEP {
            std::hint::spin_loop();
            spins += 1;
        }
        // SAFETY: as in `run`; a worker may block (the page's thread may not, and never waits).
        unsafe {
            core::arch::wasm32::memory_atomic_wait32(WAKE.as_ptr().cast(), generation as i32, -1)
        };
    }
}

/// Called by the worker script when [`worker`] trapped.
#[wasm_bindgen(js_name = seLensCpuWorkerFailed)]
pub fn worker_failed() {
    FAILED.store(true, Ordering::Relaxed);
}

/// The worker script: instantiates the page's module on the page's memory, then works.
#[cfg(feature = "web")]
const WORKER_JS: &str = r#"
self.onmessage = async ({ data: [glue, module, memory] }) => {
  const bindings = await import(glue);
  bindings.initSync({ module, memory });
  try {
    bindings.seLensCpuWorker();
  } catch (error) {
    bindings.seLensCpuWorkerFailed();
    throw error;
  }
};
"#;

/// Starts `threads - 1` workers beside the running thread. `glue` is the URL of this module's
/// wasm-bindgen JavaScript (the workers import it). They join as they come up (parallel calls made
/// meanwhile use the threads already there); the promise resolves when all have joined.
#[cfg(feature = "web")]
#[wasm_bindgen(js_name = startCpuThreads)]
pub fn start(glue: &str, threads: usize) -> Result<js_sys::Promise, JsValue> {
    // A lazily initialised static that tasks share must be initialised here, on the page's
    // thread, before any worker exists: a thread that finds another one initialising it waits with
    // `memory.atomic.wait32`, which traps on a page's thread ("Atomics.wait cannot be called in
    // this context"), and the run never finishes. The CPU path has none since its GEMM is our own
    // (`packed_gemm.rs`); the `gemm` crate's cache sizes were one (`make e2e-stress` lost that race
    // in 2 of 150 first runs with threads until they were read here first).
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/javascript");
    let parts = js_sys::Array::of1(&JsValue::from_str(WORKER_JS));
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let worker_options = web_sys::WorkerOptions::new();
    worker_options.set_type(web_sys::WorkerType::Module);
    worker_options.set_name("se-lens-cpu");
    let joined = js_sys::Array::new();
    for _ in 1..threads {
        let worker = web_sys::Worker::new_with_options(&url, &worker_options)?;
        // Settles on the worker's first message, which it sends once it takes tasks.
        joined.push(&js_sys::Promise::new(&mut |resolve, _| {
            worker.set_onmessage(Some(&resolve))
        }));
        worker.post_message(&js_sys::Array::of3(
            &JsValue::from_str(glue),
            &wasm_bindgen::module(),
            &wasm_bindgen::memory(),
        ))?;
    }
    Ok(js_sys::Promise::all(&joined))
}
