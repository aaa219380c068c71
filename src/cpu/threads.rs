//! The CPU path's threads, one pool for both targets: natively `std` threads, one per core beside
//! the caller, started on first use; in the wasm build with atomics (where the browser allows
//! shared memory: cross-origin isolated, see `scripts/build-web.sh`) Web Workers that share the
//! wasm memory of the thread that runs the forward pass: the app's engine worker
//! (`www/engine-worker.js`) or the bench page's own (`www/bench/`).
//!
//! A parallel call publishes its tasks, wakes the workers, takes tasks itself like any worker, and
//! then spins until the last task taken by a worker is finished (written for a page's thread,
//! which may not block). Between calls a worker spins a while before it sleeps: a forward pass
//! makes a parallel call every few hundred microseconds, and waking a sleeping thread costs tens
//! of microseconds (a futex wake and, on a virtual machine, an inter-processor interrupt). rayon,
//! which the native path used before, sleeps sooner: SE-ResNet-50 spent ~12% of its CPU time in
//! the kernel waking and parking rayon's threads (`perf record`, 2 threads). Before the workers
//! have started, or without any, the calling thread simply takes every task, so nothing ever
//! waits for a worker to appear; so does a second thread that calls while a call is running (the
//! native tests run in parallel).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

#[cfg(target_arch = "wasm32")]
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
/// Set when a worker trapped (the Web Worker is gone): the page's thread stops waiting for it and
/// panics.
#[cfg(target_arch = "wasm32")]
static FAILED: AtomicBool = AtomicBool::new(false);
/// Natively, the first panic of the current call's tasks, caught ([`attempt`]).
#[cfg(not(target_arch = "wasm32"))]
static PANIC: std::sync::Mutex<Option<Box<dyn std::any::Any + Send>>> = std::sync::Mutex::new(None);
/// Set while a call runs: a second thread that calls meanwhile runs its own tasks itself.
static RUNNING: AtomicBool = AtomicBool::new(false);
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

/// Threads that take tasks: the calling one and the workers that have started (natively the
/// first call starts them).
#[cfg_attr(target_arch = "wasm32", wasm_bindgen(js_name = cpuThreads))]
pub fn count() -> usize {
    if ONE_THREAD.load(Ordering::Relaxed) {
        return 1;
    }
    #[cfg(not(target_arch = "wasm32"))]
    native::start();
    1 + WORKERS.load(Ordering::Relaxed)
}

/// From now on every parallel call runs on the calling thread alone (the page's way out of a run
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

/// Runs `task(i)`. Natively a panic is caught and the first kept in [`PANIC`]: the call re-raises
/// it once every task is finished, because a panic must not unwind past the `Job` that other
/// threads still read. On wasm32 a panic aborts.
fn attempt(task: &(dyn Fn(usize) + Sync), i: usize) {
    #[cfg(not(target_arch = "wasm32"))]
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task(i))) {
        if let Ok(mut first) = PANIC.lock() {
            first.get_or_insert(payload);
        }
    }
    #[cfg(target_arch = "wasm32")]
    task(i);
}

/// Runs `task(i)` for every `i` in `0..tasks`, on every thread there is; returns when all are done.
pub fn run(tasks: usize, task: &(dyn Fn(usize) + Sync)) {
    assert!(tasks <= MAX_TASKS, "{tasks} tasks in one parallel call");
    if tasks <= 1 || count() == 1 || BUSY.get() || RUNNING.swap(true, Ordering::Acquire) {
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
    wake_workers();
    let mut mine = 0;
    while let Some(i) = take(generation) {
        attempt(task, i);
        mine += 1;
    }
    DONE.fetch_add(mine, Ordering::AcqRel);
    while DONE.load(Ordering::Acquire) < tasks as u32 {
        #[cfg(target_arch = "wasm32")]
        assert!(
            !FAILED.load(Ordering::Relaxed),
            "a CPU worker thread failed (see the console)"
        );
        std::hint::spin_loop();
    }
    // Every task is finished, so no worker reads `job` any more.
    JOB.store(std::ptr::null_mut(), Ordering::Relaxed);
    #[cfg(not(target_arch = "wasm32"))]
    let panic = PANIC.lock().ok().and_then(|mut first| first.take());
    BUSY.set(false);
    RUNNING.store(false, Ordering::Release);
    #[cfg(not(target_arch = "wasm32"))]
    if let Some(payload) = panic {
        std::panic::resume_unwind(payload);
    }
}

/// A worker's life (natively a thread that [`count`] started; on wasm32 called by the worker
/// script of [`start`]; never returns): take the current call's tasks, then wait for the next.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen(js_name = seLensCpuWorker))]
pub fn worker() {
    BUSY.set(true);
    WORKERS.fetch_add(1, Ordering::Relaxed);
    // Counted: tell the thread that started it ([`start`]'s promise).
    #[cfg(all(target_arch = "wasm32", feature = "web"))]
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
            attempt(job.task, i);
            DONE.fetch_add(1, Ordering::AcqRel);
        }
        let mut spins = 0;
        while WAKE.load(Ordering::Acquire) == generation && spins < SPIN_BEFORE_SLEEP {
            std::hint::spin_loop();
            spins += 1;
        }
        sleep_while(generation);
    }
}

/// Wakes the workers that sleep in [`sleep_while`] for the call [`WAKE`] now names.
#[cfg(target_arch = "wasm32")]
fn wake_workers() {
    // SAFETY: `WAKE` is a live, aligned i32-sized atomic in the shared memory.
    unsafe { core::arch::wasm32::memory_atomic_notify(WAKE.as_ptr().cast(), u32::MAX) };
}

/// Sleeps until [`WAKE`] is no longer `generation`.
#[cfg(target_arch = "wasm32")]
fn sleep_while(generation: u32) {
    // SAFETY: as in `wake_workers`; a worker may block (the page's thread may not, and never
    // waits).
    unsafe {
        core::arch::wasm32::memory_atomic_wait32(WAKE.as_ptr().cast(), generation as i32, -1)
    };
}

#[cfg(not(target_arch = "wasm32"))]
use native::{sleep_while, wake_workers};

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::{worker, Ordering, WAKE};
    use std::sync::{Condvar, Mutex, Once};

    /// How many workers sleep; [`BELL`] rings for them. A worker counts itself and checks
    /// [`WAKE`] under the lock, and the caller reads the count under it after changing `WAKE`,
    /// so no wake-up is lost, and a call whose workers are all awake makes no system call.
    static SLEEPERS: Mutex<usize> = Mutex::new(0);
    static BELL: Condvar = Condvar::new();

    /// Starts one worker per core beside the calling thread, once (`SE_LENS_THREADS=N` asks for
    /// `N` threads in all, the caller's included).
    pub(super) fn start() {
        static STARTED: Once = Once::new();
        STARTED.call_once(|| {
            let threads = std::env::var("SE_LENS_THREADS")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            for n in 1..threads {
                let spawned = std::thread::Builder::new()
                    .name(format!("se-lens-cpu-{n}"))
                    .spawn(worker);
                // Without it the pool has fewer threads: every call still runs.
                if spawned.is_err() {
                    break;
                }
            }
        });
    }

    pub(super) fn wake_workers() {
        let sleepers = SLEEPERS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *sleepers > 0 {
            BELL.notify_all();
        }
    }

    pub(super) fn sleep_while(generation: u32) {
        let mut sleepers = SLEEPERS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *sleepers += 1;
        while WAKE.load(Ordering::Acquire) == generation {
            sleepers = BELL
                .wait(sleepers)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        *sleepers -= 1;
    }
}

/// Called by the worker script when [`worker`] trapped.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen(js_name = seLensCpuWorkerFailed)]
pub fn worker_failed() {
    FAILED.store(true, Ordering::Relaxed);
}

/// The worker script: instantiates the page's module on the page's memory, then works.
#[cfg(all(target_arch = "wasm32", feature = "web"))]
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
#[cfg(all(target_arch = "wasm32", feature = "web"))]
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

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn every_task_runs_once_while_other_threads_call_too() {
        let callers: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for tasks in [2, 7, 64, 1000] {
                        let runs: Vec<AtomicU32> = (0..tasks).map(|_| AtomicU32::new(0)).collect();
                        run(tasks, &|i| {
                            runs[i].fetch_add(1, Ordering::Relaxed);
                        });
                        assert!(runs.iter().all(|n| n.load(Ordering::Relaxed) == 1));
                    }
                })
            })
            .collect();
        for caller in callers {
            caller.join().expect("a caller panicked");
        }
    }

    #[test]
    fn a_task_that_panics_panics_the_call_and_the_pool_goes_on() {
        let call = || {
            run(64, &|i| {
                if i == 60 {
                    panic!("task {i} failed");
                }
            })
        };
        let payload = std::panic::catch_unwind(call).expect_err("the call panics");
        assert_eq!(payload.downcast_ref::<String>().unwrap(), "task 60 failed");
        let runs = AtomicU32::new(0);
        run(64, &|_| {
            runs.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(runs.load(Ordering::Relaxed), 64);
    }
}
