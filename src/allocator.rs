//! The process's allocator: mimalloc, asked for a plain block whenever a plain block is aligned
//! enough (mimalloc's own Rust binding asks for an aligned block every time, and mimalloc 3
//! serves such a request from an over-sized block whenever the page of its size has no free
//! block at hand: a fifth of the generator's allocations took that path).

use std::alloc::{GlobalAlloc, Layout};

use libmimalloc_sys as mi;

/// Every mimalloc block is aligned to 16 bytes, or to its size if that is smaller (as glibc's).
const PLAIN_ALIGN: usize = 16;

/// mimalloc as the global allocator (with feature `override` it also serves C's `malloc`).
pub struct MiMalloc;

/// Whether a plain block of `size` bytes satisfies `align`.
fn plain(align: usize, size: usize) -> bool {
    align <= PLAIN_ALIGN && align <= size
}

// SAFETY: each method hands the request to the mimalloc function of the same contract; plain
// (unaligned) ones only where mimalloc's block alignment already satisfies the layout.
unsafe impl GlobalAlloc for MiMalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match plain(layout.align(), layout.size()) {
            true => mi::mi_malloc(layout.size()).cast(),
            false => mi::mi_malloc_aligned(layout.size(), layout.align()).cast(),
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match plain(layout.align(), layout.size()) {
            true => mi::mi_zalloc(layout.size()).cast(),
            false => mi::mi_zalloc_aligned(layout.size(), layout.align()).cast(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi::mi_free(ptr.cast());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match plain(layout.align(), new_size) {
            true => mi::mi_realloc(ptr.cast(), new_size).cast(),
            false => mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_block_has_the_alignment_its_layout_asks_for() {
        let a = MiMalloc;
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            // Sizes below the alignment too: a plain block of 8 bytes is not aligned to 64.
            for size in [1, 8, 24, 40, 48, 100, 384, 1000, 5000, 70_000] {
                let layout = Layout::from_size_align(size, align).unwrap();
                let grown = Layout::from_size_align(size * 3, align).unwrap();
                // SAFETY: the layouts are non-zero in size; each block is freed once, with the
                // layout it has.
                unsafe {
                    // Several blocks of each layout: one may be aligned by chance.
                    let blocks: Vec<(*mut u8, *mut u8)> = (0..8)
                        .map(|_| (a.alloc(layout), a.alloc_zeroed(layout)))
                        .collect();
                    for &(p, z) in &blocks {
                        assert!(!p.is_null() && p as usize % align == 0, "{layout:?}");
                        assert!(!z.is_null() && z as usize % align == 0, "{layout:?} zeroed");
                        assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0));
                    }
                    for (p, z) in blocks {
                        let r = a.realloc(p, layout, grown.size());
                        assert!(!r.is_null() && r as usize % align == 0, "{layout:?} grown");
                        a.dealloc(r, grown);
                        a.dealloc(z, layout);
                    }
                }
            }
        }
    }
}
