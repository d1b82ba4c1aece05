//! The unstable sort etcd 3.5.1 uses for sorted ranges (Go 1.16's `sort.Sort`: introsort with
//! ninther pivots, a gap-6 shell pass and insertion sort for short runs). Keys with equal sort
//! fields come out in the order this algorithm leaves them, so clients see the same order as
//! from etcd only if the same algorithm runs.

/// Sorts `data` in place so that `less` holds between neighbours, moving elements exactly as
/// Go 1.16's `sort.Sort` would.
pub(crate) fn sort<T>(data: &mut [T], less: impl Fn(&T, &T) -> bool) {
    let mut s = Sorter { data, less };
    let n = s.data.len();
    let mut max_depth = 0;
    let mut i = n;
    while i > 0 {
        max_depth += 1;
        i >>= 1;
    }
    s.quick_sort(0, n, max_depth * 2);
}

struct Sorter<'a, T, F> {
    data: &'a mut [T],
    less: F,
}

impl<T, F: Fn(&T, &T) -> bool> Sorter<'_, T, F> {
    fn less(&self, i: usize, j: usize) -> bool {
        (self.less)(&self.data[i], &self.data[j])
    }

    fn swap(&mut self, i: usize, j: usize) {
        self.data.swap(i, j);
    }

    fn insertion_sort(&mut self, a: usize, b: usize) {
        for i in a + 1..b {
            let mut j = i;
            while j > a && self.less(j, j - 1) {
                self.swap(j, j - 1);
                j -= 1;
            }
        }
    }

    fn sift_down(&mut self, lo: usize, hi: usize, first: usize) {
        let mut root = lo;
        loop {
            let mut child = 2 * root + 1;
            if child >= hi {
                return;
            }
            if child + 1 < hi && self.less(first + child, first + child + 1) {
                child += 1;
            }
            if !self.less(first + root, first + child) {
                return;
            }
            self.swap(first + root, first + child);
            root = child;
        }
    }

    fn heap_sort(&mut self, a: usize, b: usize) {
        let first = a;
        let hi = b - a;
        let mut i = (hi as isize - 1) / 2;
        while i >= 0 {
            self.sift_down(i as usize, hi, first);
            i -= 1;
        }
        let mut i = hi as isize - 1;
        while i >= 0 {
            self.swap(first, first + i as usize);
            self.sift_down(0, i as usize, first);
            i -= 1;
        }
    }

    /// Leaves the median of `data[m0]`, `data[m1]`, `data[m2]` in `data[m1]`.
    fn median_of_three(&mut self, m1: usize, m0: usize, m2: usize) {
        if self.less(m1, m0) {
            self.swap(m1, m0);
        }
        if self.less(m2, m1) {
            self.swap(m2, m1);
            if self.less(m1, m0) {
                self.swap(m1, m0);
            }
        }
    }

    fn do_pivot(&mut self, lo: usize, hi: usize) -> (usize, usize) {
        let m = (lo + hi) / 2;
        if hi - lo > 40 {
            let s = (hi - lo) / 8;
            self.median_of_three(lo, lo + s, lo + 2 * s);
            self.median_of_three(m, m - s, m + s);
            self.median_of_three(hi - 1, hi - 1 - s, hi - 1 - 2 * s);
        }
        self.median_of_three(lo, m, hi - 1);

        // data[lo] is the pivot; [lo+1, a) < pivot, [a, b) <= pivot, [c, hi-1) > pivot.
        let pivot = lo;
        let (mut a, mut c) = (lo + 1, hi - 1);
        while a < c && self.less(a, pivot) {
            a += 1;
        }
        let mut b = a;
        loop {
            while b < c && !self.less(pivot, b) {
                b += 1;
            }
            while b < c && self.less(pivot, c - 1) {
                c -= 1;
            }
            if b >= c {
                break;
            }
            self.swap(b, c - 1);
            b += 1;
            c -= 1;
        }
        // Few elements above the pivot hint at many duplicates of it.
        let mut protect = hi - c < 5;
        if !protect && hi - c < (hi - lo) / 4 {
            let mut dups = 0;
            if !self.less(pivot, hi - 1) {
                self.swap(c, hi - 1);
                c += 1;
                dups += 1;
            }
            if !self.less(b - 1, pivot) {
                b -= 1;
                dups += 1;
            }
            if !self.less(m, pivot) {
                self.swap(m, b - 1);
                b -= 1;
                dups += 1;
            }
            protect = dups > 1;
        }
        if protect {
            // Gather the elements equal to the pivot into [b, c).
            loop {
                while a < b && !self.less(b - 1, pivot) {
                    b -= 1;
                }
                while a < b && self.less(a, pivot) {
                    a += 1;
                }
                if a >= b {
                    break;
                }
                self.swap(a, b - 1);
                a += 1;
                b -= 1;
            }
        }
        self.swap(pivot, b - 1);
        (b - 1, c)
    }

    fn quick_sort(&mut self, mut a: usize, mut b: usize, mut max_depth: usize) {
        while b - a > 12 {
            if max_depth == 0 {
                self.heap_sort(a, b);
                return;
            }
            max_depth -= 1;
            let (mlo, mhi) = self.do_pivot(a, b);
            // Recurse into the smaller side to bound the stack depth.
            if mlo - a < b - mhi {
                self.quick_sort(a, mlo, max_depth);
                a = mhi;
            } else {
                self.quick_sort(mhi, b, max_depth);
                b = mlo;
            }
        }
        if b - a > 1 {
            for i in a + 6..b {
                if self.less(i, i - 6) {
                    self.swap(i, i - 6);
                }
            }
            self.insertion_sort(a, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn sorts_any_input() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for n in [0usize, 1, 2, 5, 12, 13, 40, 41, 100, 1000, 5000] {
            let mut v: Vec<u32> = (0..n).map(|_| rng.random_range(0..50)).collect();
            let mut expected = v.clone();
            expected.sort();
            sort(&mut v, |a, b| a < b);
            assert_eq!(v, expected, "n = {n}");
        }
    }

    #[test]
    fn orders_by_the_sort_field_only() {
        let mut v: Vec<(u8, u8)> = (0..20u8).map(|i| (i, i % 3)).collect();
        sort(&mut v, |a, b| a.1 < b.1);
        assert!(v.windows(2).all(|w| w[0].1 <= w[1].1));
    }
}
