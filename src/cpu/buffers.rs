//! Memory for tensors and kernel matrices whose every element is written before it is read (conv
//! outputs, im2col and Winograd matrices): freed buffers are kept per thread and handed out
//! again, so a forward pass does not zero (or fault in) fresh memory for each layer.

use std::cell::RefCell;

/// How many freed buffers a thread keeps: the largest ones (a network's layers come in a few
/// sizes; kept memory is memory no other allocation can have).
const KEPT: usize = 8;

thread_local! {
    static FREE: RefCell<Vec<Vec<f32>>> = RefCell::default();
}

/// `len` values whose contents are unspecified (a freed buffer's, or zeros): the caller writes
/// each element before reading it.
pub fn take(len: usize) -> Vec<f32> {
    let kept = FREE.with_borrow_mut(|free| {
        let fits = (0..free.len()).filter(|&i| free[i].capacity() >= len);
        let best = fits.min_by_key(|&i| free[i].capacity());
        best.map(|i| free.swap_remove(i))
    });
    let mut buffer = kept.unwrap_or_default();
    buffer.resize(len, 0.0);
    buffer
}

/// Keeps `buffer` for a later [`take`] on this thread.
pub fn give(buffer: Vec<f32>) {
    FREE.with_borrow_mut(|free| {
        free.push(buffer);
        if free.len() > KEPT {
            let smallest = (0..free.len()).min_by_key(|&i| free[i].capacity());
            free.swap_remove(smallest.expect("not empty"));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_buffer_comes_back_for_the_smallest_request_it_fits() {
        let large = vec![2.0f32; 100];
        let large_at = large.as_ptr();
        give(vec![1.0f32; 10]);
        give(large);
        let taken = take(50);
        assert_eq!((taken.as_ptr(), &taken[..]), (large_at, &[2.0; 50][..]));
        assert_eq!(take(8), [1.0; 8]);
        // Nothing kept fits: new memory.
        assert_eq!(take(20), [0.0; 20]);
    }
}
