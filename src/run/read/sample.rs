//! Keeping an evenly spaced sample of a long stream (the gradient-flow
//! snapshots of a long run) in bounded memory.

/// An evenly spaced sample of a stream that never holds more than about
/// `2·max` items: every `stride`-th item, the stride doubling whenever the
/// sample fills, and the last item.
pub(super) struct Sampler<T> {
    max: usize,
    stride: usize,
    seen: usize,
    kept: Vec<T>,
    /// The newest item, when the sample does not hold it.
    last: Option<T>,
}

impl<T> Sampler<T> {
    pub(super) fn new(max: usize) -> Sampler<T> {
        Sampler {
            max: max.max(1),
            stride: 1,
            seen: 0,
            kept: Vec::new(),
            last: None,
        }
    }

    pub(super) fn push(&mut self, item: T) {
        if self.seen.is_multiple_of(self.stride) {
            self.kept.push(item);
            self.last = None;
            if self.kept.len() >= 2 * self.max {
                // Keep the items at even places (multiples of twice the stride).
                self.last = self.kept.pop();
                let mut i = 0;
                self.kept.retain(|_| {
                    i += 1;
                    i % 2 == 1
                });
                self.stride *= 2;
            }
        } else {
            self.last = Some(item);
        }
        self.seen += 1;
    }

    pub(super) fn finish(self) -> Vec<T> {
        let mut kept = self.kept;
        kept.extend(self.last);
        kept
    }
}

/// Keeps at most `max` of `v`, evenly spaced, the last one always.
pub(super) fn thin<T>(v: &mut Vec<T>, max: usize) {
    let n = v.len();
    if n <= max || max == 0 {
        return;
    }
    let every = n.div_ceil(max);
    let mut i = 0;
    v.retain(|_| {
        i += 1;
        (n - i).is_multiple_of(every)
    });
}

#[cfg(test)]
mod tests {
    use super::{Sampler, thin};

    #[test]
    fn sampling_a_stream_keeps_evenly_spaced_items_the_last_and_little_memory() {
        for (n, max) in [(5000u32, 100), (7, 4), (199, 100), (200, 100), (1, 3)] {
            let mut s = Sampler::new(max);
            let mut most = 0;
            for i in 0..n {
                s.push(i);
                most = most.max(s.kept.len());
            }
            assert!(most < 2 * max, "({n},{max}) held {most}");
            let v = s.finish();
            assert_eq!(v.last(), Some(&(n - 1)), "({n},{max})");
            let body = &v[..v.len() - 1];
            let gaps: Vec<u32> = body.windows(2).map(|w| w[1] - w[0]).collect();
            assert!(
                gaps.windows(2).all(|g| g[0] == g[1]),
                "({n},{max}) {gaps:?}"
            );
            assert!(body.first().is_none_or(|&first| first == 0), "({n},{max})");
            assert!(
                v.len() >= max.min(n as usize) / 2,
                "({n},{max}) kept {}",
                v.len()
            );
        }
    }

    #[test]
    fn thinning_keeps_evenly_spaced_items_and_the_last() {
        let mut v: Vec<u32> = (1..=10).collect();
        thin(&mut v, 4);
        assert_eq!(v, vec![1, 4, 7, 10]);
        let mut v: Vec<u32> = (1..=5000).collect();
        thin(&mut v, 2000);
        assert!(v.len() <= 2000 && v.len() > 1000, "{}", v.len());
        assert_eq!(v.last(), Some(&5000));
        let mut short = vec![1, 2, 3];
        thin(&mut short, 4);
        assert_eq!(short, vec![1, 2, 3]);
    }
}
