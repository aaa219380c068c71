//! The one seam between the CPU path and its threads: the pool of [`super::threads`] natively and
//! in the wasm build with atomics, none in the plain wasm build.

#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
use super::threads;

/// Below this many elements touched, a parallel call costs more than it saves.
const MIN_PARALLEL_WORK: usize = 1 << 15;

/// Runs `work(index, chunk)` over `data` split into `chunk_len`-sized pieces.
pub fn for_each_chunk<F>(data: &mut [f32], chunk_len: usize, work: F)
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    for_each_chunk_reading(data, chunk_len, 1, work);
}

/// [`for_each_chunk`] where computing each element of `data` reads `reads` elements (a mean of a
/// plane, a row of a dense layer), so that small outputs of much work still go parallel.
pub fn for_each_chunk_reading<F>(data: &mut [f32], chunk_len: usize, reads: usize, work: F)
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    let cost = data.len() * reads;
    let mut chunks: Vec<&mut [f32]> = data.chunks_mut(chunk_len).collect();
    for_each_mut(&mut chunks, cost, |i, chunk| work(i, chunk));
}

/// `items.iter().map(work)` in parallel, in order of `items`.
pub fn map_items<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    let mut results: Vec<Option<R>> = items.iter().map(|_| None).collect();
    for_each_mut(&mut results, usize::MAX, |i, result| {
        *result = Some(work(&items[i]))
    });
    results.into_iter().flatten().collect()
}

/// [`for_each_chunk`] that also hands each chunk its own element of `per_chunk`, or `None` for
/// every chunk when `per_chunk` is empty.
pub fn for_each_chunk_with<F>(data: &mut [f32], chunk_len: usize, per_chunk: &mut [f32], work: F)
where
    F: Fn(usize, &mut [f32], Option<&mut f32>) + Sync + Send,
{
    if per_chunk.is_empty() {
        return for_each_chunk(data, chunk_len, |i, chunk| work(i, chunk, None));
    }
    assert_eq!(data.len().div_ceil(chunk_len), per_chunk.len());
    let cost = data.len();
    let mut pairs: Vec<_> = data.chunks_mut(chunk_len).zip(per_chunk).collect();
    for_each_mut(&mut pairs, cost, |i, (chunk, side)| {
        work(i, chunk, Some(side))
    });
}

/// `work(i, &mut items[i])` for every item, in parallel if all of it touches at least
/// [`MIN_PARALLEL_WORK`] elements (`cost`).
fn for_each_mut<T: Send>(items: &mut [T], cost: usize, work: impl Fn(usize, &mut T) + Sync + Send) {
    if cost < MIN_PARALLEL_WORK {
        return items
            .iter_mut()
            .enumerate()
            .for_each(|(i, item)| work(i, item));
    }
    #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
    items
        .iter_mut()
        .enumerate()
        .for_each(|(i, item)| work(i, item));
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    {
        let len = items.len();
        // A few tasks per thread: whoever finishes early takes the next.
        let tasks = len.min(4 * threads::count()).min(threads::MAX_TASKS);
        let base = SharedPtr(items.as_mut_ptr());
        threads::run(tasks, &|task| {
            for i in task * len / tasks..(task + 1) * len / tasks {
                // SAFETY: the tasks' index ranges partition 0..len and each task runs once, so
                // every item is borrowed mutably exactly once, while `items` is borrowed.
                work(i, unsafe { &mut *base.get().add(i) });
            }
        });
    }
}

/// Runs `work(i)` for every `i` in `0..count`, in parallel.
pub fn for_each_index(count: usize, work: impl Fn(usize) + Sync + Send) {
    let mut indices: Vec<usize> = (0..count).collect();
    for_each_mut(&mut indices, usize::MAX, |_, &mut i| work(i));
}

/// Threads the CPU path runs on now (on wasm: the page's and its workers that have started).
pub fn thread_count() -> usize {
    #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
    return 1;
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    threads::count()
}

/// From now on the CPU path runs on one thread (the page's way out of a run that stalls; in the
/// single-thread build there is nothing to do).
pub fn use_one_thread() {
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    threads::use_one_thread();
}

/// Into how many blocks [`for_each_index`] splits one GEMM of this many FLOPs.
pub fn gemm_blocks(flops: usize) -> usize {
    // Below this, waking the workers costs more than it saves.
    const MIN_FLOPS_PER_BLOCK: usize = 1 << 17;
    thread_count().min(flops / MIN_FLOPS_PER_BLOCK).max(1)
}

/// A raw pointer that parallel tasks share; each task touches only its own elements.
pub struct SharedPtr<T>(pub *mut T);

impl<T> Clone for SharedPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SharedPtr<T> {}

// SAFETY: the pointer is only dereferenced by tasks that own disjoint parts of what it points to.
unsafe impl<T> Send for SharedPtr<T> {}
unsafe impl<T> Sync for SharedPtr<T> {}

impl<T> SharedPtr<T> {
    /// The pointer (a method, so closures capture the `Sync` wrapper and not its field).
    pub fn get(self) -> *mut T {
        self.0
    }
}
