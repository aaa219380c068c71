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

/// How the GEMM may split its work.
pub fn gemm_parallelism() -> gemm::Parallelism {
    #[cfg(not(target_arch = "wasm32"))]
    {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    }
    #[cfg(target_arch = "wasm32")]
    gemm::Parallelism::None
}
