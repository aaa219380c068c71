//! The CPU path's threads where the browser allows shared memory (cross-origin isolated; the
//! build with wasm atomics, see `scripts/build-web.sh`): rayon's pool on Web Workers that share the
//! wasm memory, started by `wasm-bindgen-rayon`. The thread that runs the forward pass (the app's
//! engine worker, `www/engine-worker.js`, or the bench page's own, `www/bench/`) hands each
//! parallel call to the pool and waits: it blocks in a worker, and spins on a page's thread
//! (rayon's `web_spin_lock`, which `wasm-bindgen-rayon` turns on), where blocking traps.
//!
//! The pool's workers take a moment to start. Until they all have, every parallel call runs on the
//! calling thread alone ([`ready`]), so the first result never waits for them.

use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(feature = "threads")]
use std::sync::OnceLock;

use wasm_bindgen::prelude::*;

/// Set once rayon's pool is built.
static READY: AtomicBool = AtomicBool::new(false);
/// Set when the page asked to run on the calling thread only ([`use_one_thread`]).
static ONE_THREAD: AtomicBool = AtomicBool::new(false);
/// The `BroadcastChannel` a pool thread that panics reports on ([`report_crash`]).
#[cfg(feature = "threads")]
static CRASHES: OnceLock<String> = OnceLock::new();

/// Whether parallel calls go to the pool now.
pub fn ready() -> bool {
    READY.load(Ordering::Acquire) && !ONE_THREAD.load(Ordering::Relaxed)
}

/// From now on every parallel call runs on the calling thread alone (the page's way out of a run
/// that stalls); the pool stays idle.
pub fn use_one_thread() {
    ONE_THREAD.store(true, Ordering::Relaxed);
}

/// Threads that take tasks now (1 until the pool is up).
#[wasm_bindgen(js_name = cpuThreads)]
pub fn count() -> usize {
    super::parallel::thread_count()
}

/// Starts rayon's pool of `threads` Web Workers on this module's memory. Returns at once; parallel
/// calls use the pool from the moment all its workers are up. Resolves then (the bench page waits
/// for it; the engine worker does not). A pool thread that panics says so on the
/// `BroadcastChannel` named `crashes` (the thread that waits for it cannot).
#[cfg(feature = "threads")]
#[wasm_bindgen(js_name = startCpuThreads)]
pub fn start(threads: usize, crashes: Option<String>) -> js_sys::Promise {
    if let Some(name) = crashes {
        let _ = CRASHES.set(name);
    }
    let pool = wasm_bindgen_rayon::init_thread_pool(threads);
    wasm_bindgen_futures::future_to_promise(async move {
        wasm_bindgen_futures::JsFuture::from(pool).await?;
        READY.store(true, Ordering::Release);
        Ok(JsValue::from(super::parallel::thread_count()))
    })
}

/// Reports a panic of this thread on the crash channel [`start`] was given (the panic hook's way
/// out of a pool thread: the instance aborts next).
#[cfg(feature = "threads")]
pub fn report_crash(message: &str) {
    if let Some(channel) = CRASHES
        .get()
        .and_then(|name| web_sys::BroadcastChannel::new(name).ok())
    {
        let _ = channel.post_message(&message.into());
    }
}
