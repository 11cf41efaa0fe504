//! How the process takes memory from the kernel.

/// Turns transparent huge pages off for this process. mimalloc asks the kernel for them,
/// and the kernel then zeroes a whole 2 MiB page at the first touch of any part of it:
/// on W2 (scripts/bench) that was a quarter of the CPU time of the first wave of
/// requests, and peak RSS was 77 MiB instead of 46. Called first thing by the `trawl`
/// binary and by the processing benchmark, so both measure the same allocator. A
/// failure (an old kernel) only leaves the default.
pub fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_THP_DISABLE) takes integers only and reads no memory.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
