//! The one seam between native threads and single-threaded wasm.

/// Runs `work(index, chunk)` over `data` split into `chunk_len`-sized pieces: on rayon's pool
/// natively, in order on wasm32 (the browser has no threads without cross-origin isolation).
pub fn for_each_chunk<F>(data: &mut [f32], chunk_len: usize, work: F)
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        data.par_chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(i, chunk)| work(i, chunk));
    }
    #[cfg(target_arch = "wasm32")]
    data.chunks_mut(chunk_len)
        .enumerate()
        .for_each(|(i, chunk)| work(i, chunk));
}

/// `items.iter().map(work)`, on rayon's pool natively (in order of `items`), sequentially on
/// wasm32.
pub fn map_items<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        items.par_iter().map(work).collect()
    }
    #[cfg(target_arch = "wasm32")]
    items.iter().map(work).collect()
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
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        data.par_chunks_mut(chunk_len)
            .zip(per_chunk.par_iter_mut())
            .enumerate()
            .for_each(|(i, (chunk, side))| work(i, chunk, Some(side)));
    }
    #[cfg(target_arch = "wasm32")]
    data.chunks_mut(chunk_len)
        .zip(per_chunk.iter_mut())
        .enumerate()
        .for_each(|(i, (chunk, side))| work(i, chunk, Some(side)));
}

/// Runs `work` on a thread of the pool, so that the parallel loops inside it are split among the
/// workers directly instead of each being injected into the pool from outside and waited for.
pub fn on_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    #[cfg(not(target_arch = "wasm32"))]
    return rayon::scope(|_| work());
    #[cfg(target_arch = "wasm32")]
    work()
}

/// How the GEMM may split its work.
pub fn gemm_parallelism() -> gemm::Parallelism {
    #[cfg(not(target_arch = "wasm32"))]
    {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    }
    #[cfg(target_arch = "wasm32")]
    gemm::Parallelism::None
}
